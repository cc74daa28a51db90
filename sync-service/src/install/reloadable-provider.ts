import type { OAuthTokenProvider, TokenProvider } from '../hubspot/client';

/**
 * OAuthTokenProvider remembers tokens per portal for the life of the process. After an uninstall and reinstall
 * that memory holds a revoked token, which HubSpot answers with INVALID_AUTHENTICATION (not EXPIRED), so the
 * provider would never reload it. This keeps one provider per portal and lets the install flow drop it.
 * Other processes drop theirs when the remembered token reaches its refresh time (at most ~25 minutes): the
 * refresh path reloads from the store first.
 */
export class ReloadableTokenProvider implements TokenProvider {
  private readonly perPortal = new Map<string, OAuthTokenProvider>();

  constructor(private readonly make: () => OAuthTokenProvider) {}

  accessToken(portalId: string): Promise<string> {
    return this.provider(portalId).accessToken(portalId);
  }

  refresh(portalId: string, rejected: string): Promise<boolean> {
    return this.provider(portalId).refresh(portalId, rejected);
  }

  /** The next call for this portal reads the token store again. */
  forget(portalId: string): void {
    this.perPortal.delete(portalId);
  }

  private provider(portalId: string): OAuthTokenProvider {
    let p = this.perPortal.get(portalId);
    if (!p) {
      p = this.make();
      this.perPortal.set(portalId, p);
    }
    return p;
  }
}
