/**
 * The little of `pg` the PostgreSQL timeline and the fleet heartbeat use, typed here so that blastwall's
 * declarations never name the `pg` package: a user who does not install `pg` (or its types) still
 * type-checks with `skipLibCheck: false`. `pg`'s own `Pool` satisfies these interfaces.
 */
export interface PgResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
}

export interface PgClient {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  release(err?: Error | boolean): void;
}

export interface PgPool {
  query(text: string, values?: unknown[]): Promise<PgResult>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PgModule {
  Pool: new (config: Record<string, unknown>) => PgPool;
}
