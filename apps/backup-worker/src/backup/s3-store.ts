import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BackupManifest, type EnvConfig } from '@datasync/schemas';
import { syncFile } from './archive.js';
import { DATA_SUFFIX, MANIFEST_SUFFIX } from './local-store.js';

export type S3Config = Pick<
  EnvConfig,
  'AWS_REGION' | 'AWS_ENDPOINT_URL_S3' | 'AWS_S3_FORCE_PATH_STYLE' | 'AWS_S3_BACKUP_BUCKET' | 'AWS_S3_PREFIX'
>;

/**
 * Checksums only when an operation requires them: the SDK's default since 3.729 (CRC32 on every
 * request) breaks S3-compatible stores, and lib-storage fails on whole-object checksums with
 * multipart uploads (aws-sdk-js-v3 6742, 6922). Integrity is checked by our own sha256 instead.
 * Credentials come from the SDK's default chain and never reach a log line.
 */
export function createS3Client(
  config: S3Config,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): S3Client {
  return new S3Client({
    region: config.AWS_REGION,
    ...(config.AWS_ENDPOINT_URL_S3 ? { endpoint: config.AWS_ENDPOINT_URL_S3 } : {}),
    forcePathStyle: config.AWS_S3_FORCE_PATH_STYLE,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(credentials ? { credentials } : {}),
  });
}

export interface S3Listing {
  /** Complete backups: a valid manifest and its data object with the manifest's size. */
  manifests: BackupManifest[];
  /** Every object under the prefix, for orphan detection. */
  objects: Map<string, { size: number; lastModified: Date }>;
}

export interface S3UploadHooks {
  afterData?: () => Promise<void> | void;
}

const PART_SIZE = 16 * 1024 * 1024;

/** Backups in a bucket, as `PREFIX/NAME.duckdb.gz` and `PREFIX/NAME.manifest.json` (uploaded last). */
export class S3BackupStore {
  readonly bucket: string;
  readonly prefix: string;

  constructor(
    readonly client: S3Client,
    options: { bucket: string; prefix: string },
  ) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
  }

  dataKey(name: string): string {
    return `${this.prefix}${name}${DATA_SUFFIX}`;
  }

  manifestKey(name: string): string {
    return `${this.prefix}${name}${MANIFEST_SUFFIX}`;
  }

  /** Data first, its checksum checked by reading it back, then the manifest. */
  async upload(manifest: BackupManifest, dataPath: string, hooks: S3UploadHooks = {}): Promise<void> {
    const key = this.dataKey(manifest.name);
    await new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: createReadStream(dataPath, { highWaterMark: 1 << 20 }),
        ContentType: 'application/gzip',
        Metadata: { sha256: manifest.sha256 },
      },
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
    }).done();
    await hooks.afterData?.();
    const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    if (head.ContentLength !== manifest.size || head.Metadata?.sha256 !== manifest.sha256) {
      throw new Error(`S3 holds ${head.ContentLength} bytes for ${key}, expected ${manifest.size}`);
    }
    const remote = await this.digestObject(key);
    if (remote.sha256 !== manifest.sha256 || remote.size !== manifest.size) {
      throw new Error(`the copy of ${key} read back from S3 does not match its sha256`);
    }
    await this.putManifest(manifest);
  }

  async putManifest(manifest: BackupManifest): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.manifestKey(manifest.name),
        Body: JSON.stringify(manifest, null, 2),
        ContentType: 'application/json',
      }),
    );
  }

  /** Throws on any listing error: retention must never act on a partial view. */
  async list(): Promise<S3Listing> {
    const objects = new Map<string, { size: number; lastModified: Date }>();
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key) {
          objects.set(item.Key, { size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0) });
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const manifests: BackupManifest[] = [];
    for (const key of objects.keys()) {
      if (!key.endsWith(MANIFEST_SUFFIX)) continue;
      const name = key.slice(this.prefix.length, -MANIFEST_SUFFIX.length);
      const manifest = await this.getManifest(name);
      if (manifest && objects.get(this.dataKey(name))?.size === manifest.size) manifests.push(manifest);
    }
    return { manifests, objects };
  }

  /** The manifest of that name, or null when it is missing or unreadable. */
  async getManifest(name: string): Promise<BackupManifest | null> {
    let text: string;
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.manifestKey(name) }),
      );
      text = (await object.Body?.transformToString()) ?? '';
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return null;
      throw error;
    }
    try {
      const parsed = BackupManifest.safeParse(JSON.parse(text));
      return parsed.success && parsed.data.name === name ? parsed.data : null;
    } catch {
      return null;
    }
  }

  async download(name: string, dest: string): Promise<void> {
    const object = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.dataKey(name) }),
    );
    await pipeline(object.Body as Readable, createWriteStream(dest));
    await syncFile(dest);
  }

  /** sha256 and size of an object as S3 returns it. */
  async digestObject(key: string): Promise<{ size: number; sha256: string }> {
    const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of object.Body as Readable) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { size, sha256: hash.digest('hex') };
  }

  /**
   * Deletes keys and proves it: DeleteObjects answers 200 even when keys failed (its `Errors`),
   * and a store may say Deleted without deleting, so the prefix is listed again afterwards.
   * Returns one reason per key that is still there.
   */
  async deleteKeys(keys: readonly string[]): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const answer = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: false },
        }),
      );
      for (const error of answer.Errors ?? []) {
        if (error.Key) failed.set(error.Key, `${error.Code ?? 'Error'}: ${error.Message ?? 'refused'}`);
      }
    }
    const { objects } = await this.list();
    for (const key of keys) {
      if (objects.has(key) && !failed.has(key)) failed.set(key, 'reported deleted but still listed');
    }
    return failed;
  }

  close(): void {
    this.client.destroy();
  }
}

/** For tests and tools: builds the store from config, or null when no bucket is configured. */
export function s3StoreFromConfig(config: S3Config, client?: S3Client): S3BackupStore | null {
  if (!config.AWS_S3_BACKUP_BUCKET) return null;
  return new S3BackupStore(client ?? createS3Client(config), {
    bucket: config.AWS_S3_BACKUP_BUCKET,
    prefix: config.AWS_S3_PREFIX,
  });
}
