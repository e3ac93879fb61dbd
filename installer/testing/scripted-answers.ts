/** A complete set of wizard answers for tests (the fast tests and the pty test type the same ones). */

/** Made up, in the machine-account format; never a real token. */
export const TOKEN = "0.48b4774c-68aa-4bb5-a5b1-b08f0083b9e4.wizardsecretvalue:AAAAAAAAAAAAAAAAAAAAAA==";

// prettier-ignore
export const answers = () => [
  "wirebot.example.net", "shared", "", "gpt-4o-mini, claude-haiku-3-5", "claude-haiku-3-5",
  "bitwarden", "3f2b8c1e-6a4d-4e7b-9c3a-1d2e3f4a5b6c", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", TOKEN,
  true, "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210",
  true, "ops@example.net, Root@example.net",                  // Cloudflare Access, admin e-mails
  "dana", "Dana", "shared", "100200300", "", "20", true,      // a shared user is asked no e-mail
  "eli", "Eli", "dedicated", "eli@example.net", "", "+15551234567", "", false,
];
/** Where the answers above sit, for tests that change one. */
export const AT = { domain: 0, orgId: 6, token: 8, access: 12, adminEmails: 13, firstUserId: 14, danaPeer: 17, danaBudget: 19, secondUserId: 21, eliEmail: 24, eliPeer: 25 } as const;
