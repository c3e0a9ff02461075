// The signed-in account (GET /v1/me), shared by every screen.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, isStatus, type Me } from './api/client';

interface SessionAPI {
  /** undefined while loading, null when signed out. */
  me: Me | null | undefined;
  /** Reloads the account and its memberships (after sign-in, creating or joining an org). */
  refresh: () => Promise<Me | null>;
  signOut: () => Promise<void>;
}

const Ctx = createContext<SessionAPI>({ me: null, refresh: async () => null, signOut: async () => {} });

export function useSession(): SessionAPI {
  return useContext(Ctx);
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const refresh = useCallback(async () => {
    try {
      const m = await api.get<Me>('/v1/me');
      setMe(m);
      return m;
    } catch (err) {
      if (isStatus(err, 401, 403)) {
        setMe(null);
        return null;
      }
      throw err;
    }
  }, []);
  const signOut = useCallback(async () => {
    try {
      await api.post('/v1/auth/logout');
    } finally {
      setMe(null);
    }
  }, []);
  useEffect(() => {
    refresh().catch(() => setMe(null));
  }, [refresh]);
  return <Ctx.Provider value={{ me, refresh, signOut }}>{children}</Ctx.Provider>;
}
