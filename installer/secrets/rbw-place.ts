/** Where rbw's state must be for wirebot-secrets.service to use it: root's rbw files, and one agent socket under /run/wirebot. */
import { PATHS } from "../config/layout.ts";

/**
 * XDG_RUNTIME_DIR for every rbw wirebot runs, from a shell or from the unit. rbw puts its agent's socket at
 * $XDG_RUNTIME_DIR/rbw/socket, else ${TMPDIR:-/tmp}/rbw-<uid>: a login's /run/user/0 vanishes at logout and
 * /tmp is private to the unit (PrivateTmp=yes), so neither can be where the unit looks for the agent.
 */
export const RBW_XDG_RUNTIME_DIR = PATHS.runDir;
export const RBW_SOCKET = `${RBW_XDG_RUNTIME_DIR}/rbw/socket`;

/**
 * Root's rbw directories (rbw's src/dirs.rs: config, cache with the encrypted vault, data with the agent's logs).
 * The unit runs as root with ProtectHome=tmpfs and binds only these, read-only: the agent, started outside the
 * unit by `wirebot secrets unlock`, is the one that writes them.
 */
export const RBW_ROOT_DIRS = ["/root/.config/rbw", "/root/.cache/rbw", "/root/.local/share/rbw"] as const;
