/** The ordered list of ledger migrations; append only, never edit one that has shipped. */
import type { Db } from "../db.ts";
import m0001 from "./0001-init.ts";
import m0002 from "./0002-traces.ts";
import m0003 from "./0003-trace-forward.ts";

export interface Migration {
  version: number;
  name: string;
  up(db: Db): void;
}

export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003];
