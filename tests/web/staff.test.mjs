// The staff app's story in Chromium (placeholder until the app lands).
import { launch, newPage, axe, assertClean, test, run } from './lib.mjs';

const browser = await launch();

test('the page loads under its policy and passes axe', async () => {
  const { page } = await newPage(browser);
  await page.goto('/staff/');
  await axe(page, 'staff: first page');
  assertClean(page);
});

await run().finally(() => browser.close());
