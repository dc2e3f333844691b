import type { ProviderModule } from '../provider.js';
import { apple } from './apple.js';
import { discord } from './discord.js';
import { facebook } from './facebook.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import { google } from './google.js';
import { microsoft } from './microsoft.js';
import { oidc } from './oidc.js';

/**
 * The providers by the names PocketBase gives them (`_externalAuths.provider`
 * takes these). Adding one is a module beside this file and a line here.
 */
const MODULES: Readonly<Record<string, ProviderModule>> = {
  apple,
  discord,
  facebook,
  github,
  gitlab,
  google,
  microsoft,
  oidc,
  oidc2: oidc,
  oidc3: oidc,
};

/** The module of a provider name, or undefined for one we do not have. */
export function providerModule(name: string): ProviderModule | undefined {
  return Object.hasOwn(MODULES, name) ? MODULES[name] : undefined;
}

/** Every provider name we have, for `GET /api/collections/meta/oauth2-providers`. */
export const PROVIDER_NAMES: readonly string[] = Object.keys(MODULES);
