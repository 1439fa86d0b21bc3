import { PermissionDeniedError } from '../errors.js';
import type { Role } from '../model/records.js';
import type { Principal } from '../ports/identity-provider.js';
import type { MetadataOperations } from '../ports/metadata-store.js';
import { ACTION_REQUIREMENTS, type Action } from './actions.js';
import { roleAtLeast } from './roles.js';

/** What an action concerns: a project (for role checks) or a user account (for `self`). */
export type ActionTarget =
  | { projectId: string; projectName: string }
  | { userId: string }
  | undefined;

/**
 * Decides every call against `ACTION_REQUIREMENTS`; throws `PermissionDeniedError` naming the
 * principal, the action and the role it lacks.
 */
export class Authorizer {
  readonly #store: Pick<MetadataOperations, 'getPermission'>;

  constructor(store: Pick<MetadataOperations, 'getPermission'>) {
    this.#store = store;
  }

  /** The caller's role in a project (`owner` for admins). */
  async roleIn(principal: Principal, projectId: string): Promise<Role | undefined> {
    if (principal.admin) return 'owner';
    return (await this.#store.getPermission(projectId, principal.userId))?.role;
  }

  async allowed(principal: Principal, action: Action, target?: ActionTarget): Promise<boolean> {
    if (principal.admin) return true;
    const requirement = ACTION_REQUIREMENTS[action];
    switch (requirement) {
      case 'admin':
        return false;
      case 'authenticated':
        return true;
      case 'self':
        return target !== undefined && 'userId' in target && target.userId === principal.userId;
      default:
        if (target === undefined || !('projectId' in target)) return false;
        return roleAtLeast(await this.roleIn(principal, target.projectId), requirement);
    }
  }

  /** `doing` describes the attempt in the message when the action's name says too little. */
  async require(
    principal: Principal,
    action: Action,
    target?: ActionTarget,
    doing?: string,
  ): Promise<void> {
    if (await this.allowed(principal, action, target)) return;
    throw this.denied(principal, action, target, doing);
  }

  /**
   * The refusal `require` throws. Lookups also give it for a project that does not exist
   * (`{ projectName }` alone), so that a caller without a role cannot tell a missing project
   * from one it may not see.
   */
  denied(
    principal: Principal,
    action: Action,
    target?: ActionTarget | { projectName: string },
    doing?: string,
  ): PermissionDeniedError {
    const requirement = ACTION_REQUIREMENTS[action];
    const need =
      requirement === 'admin'
        ? 'the admin flag'
        : requirement === 'self'
          ? 'to be that user or an admin'
          : `the role ${requirement} or higher`;
    const where = target && 'projectName' in target ? ` in project "${target.projectName}"` : '';
    return new PermissionDeniedError(
      `user "${principal.name}" may not ${doing ?? action}${where}: it needs ${need}; ask a project owner or an admin`,
      { details: { action, principal: principal.name, requirement } },
    );
  }
}
