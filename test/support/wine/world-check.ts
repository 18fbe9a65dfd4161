/**
 * Runs inside Windows (node.exe under Wine, bundled to build/wine/world-check.mjs by
 * scripts/wine/setup.sh): checks ActorWorld, the machinery of `npm start -- --wine`. A Windows
 * process starts two more Windows processes (burner, player) as scenario processes, drives them,
 * terminates the burner, and reports what it saw as one JSON line on stdout (a file).
 *
 * Usage: node.exe build\wine\world-check.mjs <drive id>
 */
import { resolve } from "node:path";
import { FilterClient } from "../../../src/client/client.ts";
import type { LedgerSnapshot } from "../../../src/client/gen/cdfilter.ts";
import { ActorWorld } from "../../../src/scenario/wine-world.ts";

const FULL_ACCESS = (0x8000_0000 | 0x4000_0000 | 0x80) >>> 0;
const drive = Number(process.argv[2] ?? "2");
const owners = (l: LedgerSnapshot) =>
  l.drives.flatMap((d) => d.owners.map((o) => ({ pid: o.pid, image: o.imageName, secure: o.secureCount })));

const world = await ActorWorld.create({
  actorScript: resolve("build/wine/actor.mjs"),
  logDir: resolve(process.argv[3] ?? "build/wine/world-check"),
});
const client = await FilterClient.connect({ transport: "win32", clientName: "world-check" });
try {
  const burner = { name: "burner", pid: 0, image: "burner.exe" };
  const player = { name: "player", pid: 0, image: "player.exe" };
  const b = await world.openDrive(burner, drive, "main", FULL_ACCESS);
  const p = await world.openDrive(player, drive, "main", FULL_ACCESS);
  const lock = await b.lock();
  const ejectLocked = await p.eject();
  const before = owners(await client.ledger(drive));
  await world.exit(burner);
  let after = owners(await client.ledger(drive));
  for (let i = 0; i < 100 && after.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = owners(await client.ledger(drive));
  }
  const ejectFree = await p.eject();
  console.log(
    JSON.stringify({
      self: process.pid,
      burner: world.pidOf(burner),
      player: world.pidOf(player),
      lock,
      ejectLocked,
      before,
      after,
      ejectFree,
    }),
  );
} finally {
  await world.close();
  await client.close();
}
