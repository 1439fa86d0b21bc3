import type { Role } from '../model/records.js';

/**
 * Who may do what, in one table: every engine method names its action here, and the
 * authorizer is the only place that reads it. `admin` actions need the global admin flag;
 * `authenticated` ones any known principal; `self` ones concern the caller's own account
 * (admins may act on anyone's). A role means that role or a higher one in the project.
 */
export const ACTION_REQUIREMENTS = {
  'project.create': 'authenticated',
  'project.get': 'viewer',
  'project.update': 'editor',
  'project.delete': 'owner',
  'featureset.register': 'editor',
  'featureset.get': 'viewer',
  'featureset.update': 'editor',
  'featureset.delete': 'owner',
  'data.read': 'consumer',
  'data.read_sensitive': 'sensitive_consumer',
  'data.write': 'editor',
  'permission.list': 'viewer',
  'permission.grant': 'owner',
  'permission.revoke': 'owner',
  'user.create': 'admin',
  'user.list': 'admin',
  'user.update': 'admin',
  'token.create': 'self',
  'token.list': 'self',
  'token.revoke': 'self',
  'job.read': 'self',
  'job.cancel': 'self',
  'store.gc': 'admin',
} as const satisfies Record<string, Role | 'admin' | 'authenticated' | 'self'>;

export type Action = keyof typeof ACTION_REQUIREMENTS;

export const ACTIONS = Object.keys(ACTION_REQUIREMENTS) as Action[];
