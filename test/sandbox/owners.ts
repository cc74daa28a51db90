import { notFound } from './errors';

export type TeamSeed = { id: string; name: string; primary?: boolean };
export type OwnerSeed = {
  id: string;
  email: string;
  firstName?: string;
  lastName?: string;
  userId?: number;
  teams?: TeamSeed[];
  archived?: boolean;
};
export type Owner = {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  userId: number;
  userIdIncludingInactive: number;
  type: 'PERSON';
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  teams: { id: string; name: string; primary: boolean }[];
};

export class OwnerStore {
  private readonly owners = new Map<string, Owner>();

  constructor(private readonly now: () => number) {}

  seed(s: OwnerSeed): Owner {
    if (!/^\d+$/.test(s.id)) throw new Error(`owner id must be digits, as HubSpot's are: ${s.id}`);
    const at = new Date(this.now()).toISOString();
    // HubSpot owner and user ids differ; derive a stable user id so "userId:<n>" sourceIds are realistic.
    const userId = s.userId ?? Number(s.id) + 1_000_000;
    const owner: Owner = {
      id: s.id,
      email: s.email,
      firstName: s.firstName ?? '',
      lastName: s.lastName ?? '',
      userId,
      userIdIncludingInactive: userId,
      type: 'PERSON',
      createdAt: at,
      updatedAt: at,
      archived: Boolean(s.archived),
      teams: (s.teams ?? []).map((t, i) => ({ id: t.id, name: t.name, primary: t.primary ?? i === 0 })),
    };
    this.owners.set(owner.id, owner);
    return owner;
  }

  /** Owners HubSpot lets you assign: archived (deactivated) owners are not valid hubspot_owner_id options. */
  isAssignable(id: string): boolean {
    const o = this.owners.get(id);
    return Boolean(o && !o.archived);
  }

  list(archived: boolean, email?: string): Owner[] {
    return [...this.owners.values()]
      .filter((o) => o.archived === archived && (!email || o.email.toLowerCase() === email.toLowerCase()))
      .sort((a, b) => Number(a.id) - Number(b.id));
  }

  get(id: string, opts: { archived?: boolean; byUserId?: boolean } = {}): Owner {
    const o = opts.byUserId
      ? [...this.owners.values()].find((x) => String(x.userId) === id)
      : this.owners.get(id);
    if (!o || o.archived !== Boolean(opts.archived)) throw notFound(`Owner with id ${id} not found`);
    return o;
  }

  first(): Owner | undefined {
    return this.list(false)[0];
  }
}
