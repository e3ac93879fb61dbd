/** The desired-state vocabulary: directories, files and symlinks with modes, owners and the units they feed. */

export interface OwnerSpec {
  user: string;
  group: string;
}

export const ROOT: OwnerSpec = { user: "root", group: "root" };

interface Base {
  path: string;
  /** Units to restart when this resource changes. */
  notify: string[];
}

export interface DirResource extends Base {
  kind: "dir";
  mode: number;
  owner: OwnerSpec;
}

export interface FileResource extends Base {
  kind: "file";
  content: string;
  mode: number;
  owner: OwnerSpec;
  /** Plan output shows "(content hidden)". */
  secret?: boolean;
  /**
   * The units in `notify` watch this JSON file and apply a change under these dotted paths themselves
   * (the runtime's config hot reload): such a change restarts nothing. Any other change restarts them.
   */
  liveReload?: { prefixes: string[] };
  /**
   * On a live apply, written after the secrets step: the file switches on what the secrets feed (a new
   * agent and its key), so the runtime reading it live must find the key already there.
   */
  afterSecrets?: boolean;
}

export interface LinkResource extends Base {
  kind: "link";
  target: string;
}

export type Resource = DirResource | FileResource | LinkResource;

/** A long-running unit the appliance keeps enabled and running. */
export interface UnitSpec {
  name: string;
  /** probe after start: an HTTP health URL on loopback, or none */
  health?: { url: string; expectJson: Record<string, unknown> };
}

export interface Desired {
  resources: Resource[];
  units: UnitSpec[];
}

export const isUnitPath = (p: string) => p.startsWith("/etc/systemd/system/");
