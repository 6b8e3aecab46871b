// node flower.mjs <flower url> <user> <password> <screenshot dir> <task uuid>...: open Flower's
// tasks list and each task's page in Debian's headless Chromium (playwright-core, no browser
// download), save a PNG of each, print what each page says as JSON.
import { chromium } from "playwright-core";

const [base, username, password, outDir, ...uuids] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const out = { list: "", tasks: {}, errors: [] };
try {
  const context = await browser.newContext({ httpCredentials: { username, password },
                                             viewport: { width: 1500, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", e => out.errors.push("pageerror: " + e.message));
  await page.goto(`${base}/tasks`);
  for (const uuid of uuids) {
    await page.waitForFunction(u => document.body.innerText.includes(u), uuid, { timeout: 30000 });
  }
  out.list = await page.evaluate(() => document.body.innerText);
  await page.screenshot({ path: `${outDir}/flower-tasks.png`, fullPage: true });
  for (const uuid of uuids) {
    await page.goto(`${base}/task/${uuid}`);
    await page.waitForLoadState("networkidle");
    out.tasks[uuid] = await page.evaluate(() => document.body.innerText);
    await page.screenshot({ path: `${outDir}/flower-task-${uuid.slice(0, 8)}.png`, fullPage: true });
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
