import { ValidationError } from '../errors.js';
import { ROLES, type Role } from '../model/records.js';

/** Roles are ordered: each includes every right of the roles below it. */
export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

export function roleAtLeast(role: Role | undefined, minimum: Role): boolean {
  return role !== undefined && roleRank(role) >= roleRank(minimum);
}

export function parseRole(value: string): Role {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  throw new ValidationError(
    `role ${JSON.stringify(value)} is unknown: use one of ${[...ROLES].reverse().join(', ')}`,
    { details: { field: 'role', value } },
  );
}
