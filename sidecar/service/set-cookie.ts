/** Set-Cookie for a token: HttpOnly, Secure, SameSite=Lax, Path=/, and Max-Age until it expires (none for a token that never does). */
export function setCookieLine(cookieName: string, token: string, expiresAt: number | null, now: number): string {
  const maxAge = expiresAt === null ? '' : `; Max-Age=${Math.max(0, Math.floor((expiresAt - now) / 1000))}`;
  return `${cookieName}=${token}; Path=/; HttpOnly; Secure; SameSite=Lax${maxAge}`;
}
