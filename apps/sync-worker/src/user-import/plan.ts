import type { StoredUserRef } from '@datasync/db';
import type { FieldError, UserCsvRow, UserImportStatus } from '@datasync/schemas';

/** What to do with one valid row, given the users stored now. */
export type RowDecision =
  | { action: 'create' }
  | { action: 'update' }
  | { action: 'report'; status: Exclude<UserImportStatus, 'rejected'>; reason: string | null }
  | { action: 'reject'; error: FieldError };

export interface StoredUsers {
  byName: Map<string, StoredUserRef>;
  byEmail: Map<string, StoredUserRef>;
}

export function indexUsers(users: readonly StoredUserRef[]): StoredUsers {
  return {
    byName: new Map(users.map((u) => [u.username, u])),
    byEmail: new Map(users.map((u) => [u.email, u])),
  };
}

/**
 * The import rules for a valid row. `importId` marks users this import wrote on an earlier
 * attempt (a retry after a crash): those are reported as the attempt left them, never written
 * twice. Made once before hashing (to hash only what will be written) and again inside each
 * write transaction, where the writer lock makes it race-free.
 */
export function decideRow(
  user: UserCsvRow,
  stored: StoredUsers,
  importId: string,
  updateExisting: boolean,
): RowDecision {
  const existing = stored.byName.get(user.username);
  const emailOwner = stored.byEmail.get(user.email);
  const emailTaken = emailOwner !== undefined && emailOwner.username !== user.username;
  if (existing) {
    if (existing.createdByJob === importId) return { action: 'report', status: 'created', reason: null };
    if (!updateExisting) {
      return { action: 'report', status: 'exists', reason: 'already exists; left unchanged' };
    }
    if (existing.updatedByJob === importId) return { action: 'report', status: 'updated', reason: null };
  }
  if (emailTaken) {
    return {
      action: 'reject',
      error: { path: 'email', message: `email already belongs to user ${emailOwner.username}` },
    };
  }
  return existing ? { action: 'update' } : { action: 'create' };
}
