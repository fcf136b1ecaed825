import { createOldScriptDatabase, type OldSaleRow, type OldUserRow, SAMPLE_BCRYPT } from '@datasync/db';

/** A plaintext password the old script stored as it was: it must never show anywhere. */
export const PLAINTEXT = 'TempPass123!';

const good: OldSaleRow = {
  date: '2024-03-10',
  user_id: 7,
  product_name: 'Laptop',
  quantity: 2,
  unit_price: '999.99',
  total_amount: '1999.98',
  region: 'North America',
};

/** 6 bad sales (3 in March 2024, one without a date, two repeats of id 1), one good. */
export const EXTRA_SALES: OldSaleRow[] = [
  good,
  { ...good, total_amount: '1500.00' }, // not quantity x unit_price
  { ...good, quantity: 0, total_amount: '0.00' }, // quantity 0, total 0
  { ...good, region: null }, // region missing
  { ...good, date: null }, // no date
  { ...good, id: 1 }, // repeats the id of the first generated row (valid otherwise)
  { ...good, id: 1, date: '2024-03-11' },
];

export const EXTRA_USERS: OldUserRow[] = [
  { username: 'Alice.B', email: 'alice@example.com', role: 'manager', password_hash: SAMPLE_BCRYPT },
  { username: 'plain', email: 'plain@example.com', role: 'user', password_hash: PLAINTEXT },
  {
    username: 'sha',
    email: 'sha@example.com',
    role: 'user',
    password_hash: 'e38ad214943daad1d64c102faec29de4afe9da3d',
  },
  { username: 'boss', email: 'boss@example.com', role: 'superuser', password_hash: PLAINTEXT }, // bad role
  { username: 'plain', email: 'plain2@example.com', role: 'user', password_hash: PLAINTEXT }, // repeated username
  { username: 'bad-mail', email: 'not an address', role: 'user', password_hash: PLAINTEXT },
];

/** 300 good generated sales (2024) + EXTRA_SALES; 5 argon2 users + EXTRA_USERS. */
export function createSmallOldDatabase(path: string) {
  return createOldScriptDatabase(path, {
    sales: 300,
    users: 5,
    extraSales: EXTRA_SALES,
    extraUsers: EXTRA_USERS,
  });
}
