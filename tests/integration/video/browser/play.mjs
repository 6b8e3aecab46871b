// node play.mjs <page url> <timeout ms>: open the page in Debian's headless Chromium (driven by
// playwright-core, no browser download), wait until the clip ended or failed, print window.result.
import { chromium } from "playwright-core";

const [url, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg || 60000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--autoplay-policy=no-user-gesture-required"],
});
const console_ = [];
try {
  const page = await browser.newPage();
  page.on("console", m => { if (m.type() === "error") console_.push(m.text()); });
  page.on("pageerror", e => console_.push("pageerror: " + e.message));
  await page.goto(url);
  let timedOut = false;
  try {
    await page.waitForFunction(() => window.result && (window.result.ended || window.result.errors.length > 0),
                               null, { timeout, polling: 100 });
  } catch (e) {
    timedOut = true;
  }
  const result = await page.evaluate(() => window.result);
  console.log(JSON.stringify({ ...result, timedOut, console: console_ }));
} finally {
  await browser.close();
}
