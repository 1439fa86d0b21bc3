import { AccessService } from './auth/access-service.js';
import { Authorizer } from './auth/authorizer.js';
import { TokenIdentityProvider } from './auth/token-identity-provider.js';
import { FeatureSetService } from './metadata/feature-set-service.js';
import { ProjectService } from './metadata/project-service.js';
import type { MetadataStore } from './ports/metadata-store.js';

export interface EngineDrivers {
  metadata: MetadataStore;
}

/**
 * The engine's services over one set of drivers. Every method takes the calling principal
 * and authorizes through the same `Authorizer`.
 */
export class FeatureStoreEngine {
  readonly drivers: EngineDrivers;
  readonly authorizer: Authorizer;
  readonly projects: ProjectService;
  readonly featureSets: FeatureSetService;
  readonly access: AccessService;
  readonly tokens: TokenIdentityProvider;

  constructor(drivers: EngineDrivers) {
    this.drivers = drivers;
    this.authorizer = new Authorizer(drivers.metadata);
    this.projects = new ProjectService(drivers.metadata, this.authorizer);
    this.featureSets = new FeatureSetService(drivers.metadata, this.authorizer);
    this.access = new AccessService(drivers.metadata, this.authorizer);
    this.tokens = new TokenIdentityProvider(drivers.metadata);
  }

  async close(): Promise<void> {
    await this.drivers.metadata.close();
  }
}
