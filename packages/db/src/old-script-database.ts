import { DuckDBInstance } from '@duckdb/node-api';

/**
 * The old script's `data/dashboard.duckdb` (seed-guide.md): `sales` with the upstream columns plus
 * an `id`, and `users` whose `password_hash` column held whatever the script stored (argon2,
 * bcrypt, or a plaintext initial password). For tests and the benchmark: good rows generated in
 * SQL (`range()`), plus any extra rows given as they are.
 */
export interface OldScriptDatabaseOptions {
  /** Generated valid sales (ids 1..n), spread over the months of 2024. */
  sales?: number;
  /** Generated users `user1..userN` with argon2-looking hashes. */
  users?: number;
  /** Extra sales rows appended as given (bad ones included); ids continue after the generated. */
  extraSales?: OldSaleRow[];
  extraUsers?: OldUserRow[];
}

export interface OldSaleRow {
  /** Defaults to the next id; give one to repeat an id. */
  id?: number;
  date: string | null;
  user_id: number | null;
  product_name: string | null;
  quantity: number | null;
  unit_price: string | null;
  total_amount: string | null;
  region: string | null;
}

export interface OldUserRow {
  username: string | null;
  email: string | null;
  role: string | null;
  password_hash: string | null;
}

export const OLD_SCRIPT_SCHEMA = `
  CREATE TABLE sales (
    id INTEGER, date DATE, user_id INTEGER, product_name VARCHAR, quantity INTEGER,
    unit_price DECIMAL(10,2), total_amount DECIMAL(10,2), region VARCHAR, created_at TIMESTAMP
  );
  CREATE TABLE users (
    id INTEGER, username VARCHAR, email VARCHAR, role VARCHAR, password_hash VARCHAR, created_at TIMESTAMP
  );`;

/** A plausible argon2id hash text (format only: these users sign in with nothing in the tests). */
export const SAMPLE_ARGON2 =
  '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
export const SAMPLE_BCRYPT = '$2b$10$abcdefghijklmnopqrstuu7kDgbx/NSNqtHdxQnXe3Y5.Fc1g.V3a';

export async function createOldScriptDatabase(
  path: string,
  options: OldScriptDatabaseOptions = {},
): Promise<void> {
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    await conn.run(OLD_SCRIPT_SCHEMA);
    const sales = options.sales ?? 0;
    if (sales > 0) {
      await conn.run(
        `INSERT INTO sales
         SELECT i::INTEGER, DATE '2024-01-01' + (i % 366)::INTEGER, (i % 1000 + 1)::INTEGER,
                'Product ' || (i % 50), (i % 5 + 1)::INTEGER,
                ((1000 + i % 997) / 100.0)::DECIMAL(10,2),
                ((1000 + i % 997) * (i % 5 + 1) / 100.0)::DECIMAL(10,2),
                ['North America', 'Europe', 'Asia'][(i % 3 + 1)::INTEGER], TIMESTAMP '2024-06-01 00:00:00'
         FROM range(1, $1 + 1) t(i)`,
        [sales],
      );
    }
    let id = sales;
    for (const row of options.extraSales ?? []) {
      id++;
      await conn.run(
        'INSERT INTO sales VALUES ($1, $2::DATE, $3, $4, $5, $6::DECIMAL(10,2), $7::DECIMAL(10,2), $8, now())',
        [
          row.id ?? id,
          row.date,
          row.user_id,
          row.product_name,
          row.quantity,
          row.unit_price,
          row.total_amount,
          row.region,
        ],
      );
    }
    const users = options.users ?? 0;
    if (users > 0) {
      await conn.run(
        `INSERT INTO users SELECT i::INTEGER, 'user' || i, 'user' || i || '@example.com',
           CASE WHEN i % 10 = 0 THEN 'admin' ELSE 'user' END, $2, TIMESTAMP '2024-01-01 00:00:00'
         FROM range(1, $1 + 1) t(i)`,
        [users, SAMPLE_ARGON2],
      );
    }
    let uid = users;
    for (const row of options.extraUsers ?? []) {
      uid++;
      await conn.run('INSERT INTO users VALUES ($1, $2, $3, $4, $5, now())', [
        uid,
        row.username,
        row.email,
        row.role,
        row.password_hash,
      ]);
    }
    await conn.run('CHECKPOINT');
  } finally {
    conn.disconnectSync();
    instance.closeSync();
  }
}

// ---------------------------------------------------------------- a sample with bad rows

/** A plaintext password the old script stored as it was: it must never show anywhere. */
export const OLD_SCRIPT_PLAINTEXT = 'TempPass123!';

const goodOldSale: OldSaleRow = {
  date: '2024-03-10',
  user_id: 7,
  product_name: 'Laptop',
  quantity: 2,
  unit_price: '999.99',
  total_amount: '1999.98',
  region: 'North America',
};

/** 6 bad sales (3 in March 2024, one without a date, two repeats of id 1), one good. */
export const OLD_SCRIPT_SAMPLE_SALES: OldSaleRow[] = [
  goodOldSale,
  { ...goodOldSale, total_amount: '1500.00' }, // not quantity x unit_price
  { ...goodOldSale, quantity: 0, total_amount: '0.00' }, // quantity 0, total 0
  { ...goodOldSale, region: null }, // region missing
  { ...goodOldSale, date: null }, // no date
  { ...goodOldSale, id: 1 }, // repeats the id of the first generated row (valid otherwise)
  { ...goodOldSale, id: 1, date: '2024-03-11' },
];

export const OLD_SCRIPT_SAMPLE_USERS: OldUserRow[] = [
  { username: 'Alice.B', email: 'alice@example.com', role: 'manager', password_hash: SAMPLE_BCRYPT },
  { username: 'plain', email: 'plain@example.com', role: 'user', password_hash: OLD_SCRIPT_PLAINTEXT },
  {
    username: 'sha',
    email: 'sha@example.com',
    role: 'user',
    password_hash: 'e38ad214943daad1d64c102faec29de4afe9da3d',
  },
  { username: 'boss', email: 'boss@example.com', role: 'superuser', password_hash: OLD_SCRIPT_PLAINTEXT }, // bad role
  { username: 'plain', email: 'plain2@example.com', role: 'user', password_hash: OLD_SCRIPT_PLAINTEXT }, // repeated username
  { username: 'bad-mail', email: 'not an address', role: 'user', password_hash: OLD_SCRIPT_PLAINTEXT },
];

/** `sales` good generated sales (2024) + OLD_SCRIPT_SAMPLE_SALES; 5 argon2 users + OLD_SCRIPT_SAMPLE_USERS: for tests. */
export function createSampleOldDatabase(path: string, sales = 300) {
  return createOldScriptDatabase(path, {
    sales,
    users: 5,
    extraSales: OLD_SCRIPT_SAMPLE_SALES,
    extraUsers: OLD_SCRIPT_SAMPLE_USERS,
  });
}
