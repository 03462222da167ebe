/** Injection tokens provided by `PlatformModule.forService` (use with `@Inject(TOKEN)`). */
export const KYSELY = 'NOCTRIA_KYSELY';
/** The `Database` handle (`{ db, pool, close }`) behind KYSELY. */
export const DATABASE = 'NOCTRIA_DATABASE';
export const BUS = 'NOCTRIA_BUS';
export const CACHE = 'NOCTRIA_CACHE';
export const LOGGER = 'NOCTRIA_LOGGER';
export const METRICS_REGISTRY = 'NOCTRIA_METRICS_REGISTRY';
export const INFRA = 'NOCTRIA_INFRA';
/** The `ArtifactStore` of the service (JetStream object store in cluster, local directory in embedded). */
export const ARTIFACT_STORE = 'NOCTRIA_ARTIFACT_STORE';
/** The validated environment object (`loadEnv` output) of the service. */
export const SERVICE_ENV = 'NOCTRIA_SERVICE_ENV';
export const SERVICE_NAME = 'NOCTRIA_SERVICE_NAME';
export const PLATFORM_OPTIONS = 'NOCTRIA_PLATFORM_OPTIONS';
