"""Regenerate docs/report.png: the HTML report of a results folder, as headless Chromium shows it.

    stationwatch experiment examples/decision_grid.yaml --jobs 2
    python docs/make_report_screenshot.py runs/experiments/decision_grid

Needs Debian's chromium and chromium-driver and selenium (the test extras).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from eval.report import write_report

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results")
    p.add_argument("--out", default=str(Path(__file__).parent / "report.png"))
    p.add_argument("--height", type=int, default=2200, help="[px] of the page to show")
    p.add_argument("--policies", help="judge at these thresholds (default: as run)")
    args = p.parse_args()
    html = write_report(args.results, Path(tempfile.mkdtemp()) / "report.html", policies_file=args.policies)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in (*FLAGS, f"--user-data-dir={tempfile.mkdtemp()}", f"--window-size=1300,{args.height}"):
        opts.add_argument(flag)
    opts.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver")))
    try:
        driver.get(html.as_uri())
        driver.save_screenshot(args.out)
    finally:
        driver.quit()
    print(f"wrote {args.out} from {html}")


if __name__ == "__main__":
    main()
