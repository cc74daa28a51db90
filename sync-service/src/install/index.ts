export { EncryptionKeyError, keyId, parseKeyRing, type EncryptionKey, type KeyRing } from './encryption-key';
export { createTokenProvider, type TokenMode, type TokenModeOptions } from './mode';
export {
  authorizeUrl,
  createOAuthRouter,
  hubspotPortalLookup,
  HUBSPOT_AUTHORIZE_URL,
  type LookupPortal,
  type OAuthRouterOptions,
  type PortalIdentity,
} from './oauth';
export { OAuthStateSigner } from './oauth-state';
export { provisionerFor, type InstallProvisioning, type ProvisionPortal } from './provisioning';
export { installRoutes, type InstallRoutesDeps } from './routes';
export { ReloadableTokenProvider } from './reloadable-provider';
export {
  InstallRegistry,
  type InstallStatus,
  type ProvisioningState,
  type ProvisioningStatus,
} from './registry';
export { CALLBACK_PATH, missingScopes, OPTIONAL_SCOPES, REQUIRED_SCOPES } from './scopes';
export {
  decryptTokens,
  EncryptedRedisTokenStore,
  encryptTokens,
  StoredTokensUnreadableError,
  type UnreadableReason,
} from './token-store';
export { hubspotRevoker, uninstallPortal, type UninstallDeps } from './uninstall';
