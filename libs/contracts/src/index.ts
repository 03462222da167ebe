/**
 * @noctria/contracts — protobuf messages of the bus (generated from proto/ by `npm run proto:gen`),
 * conversions to/from the TypeScript canonical types, subject names and JetStream definitions.
 *
 * Note: the generated message type `CanonicalBar` (protobuf, camelCase fields, bigint times) is exported
 * as `CanonicalBarMsg` to keep it apart from the domain `CanonicalBar` of @noctria/canonical-bar.
 */
export * from './gen/noctria/v1/envelope_pb.js';
export {
  file_noctria_v1_market_data,
  CanonicalBarSchema,
  BarClosedEventSchema,
  BarStaleEventSchema,
  QualityFlag as QualityFlagMsg,
  QualityFlagSchema,
} from './gen/noctria/v1/market_data_pb.js';
export type {
  CanonicalBar as CanonicalBarMsg,
  BarClosedEvent,
  BarStaleEvent,
} from './gen/noctria/v1/market_data_pb.js';
export {
  file_noctria_v1_features,
  FeatureVectorEventSchema,
  FeatureQualityFlag as FeatureQualityFlagMsg,
  FeatureQualityFlagSchema,
} from './gen/noctria/v1/features_pb.js';
export type { FeatureVectorEvent } from './gen/noctria/v1/features_pb.js';
export * from './errors.js';
export * from './envelope.js';
export * from './bars.js';
export * from './subjects.js';
export * from './streams.js';
export * from './features.js';
