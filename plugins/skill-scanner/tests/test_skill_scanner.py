"""The scanner as a user meets it: discovered through its entry point, light until used,
`nanofolks skills scan` output, and fast enough to run on every new skill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nanofolks_core.testing.checks import heavy_modules_after

FEW_FILES = {
    "SKILL.md": (
        "---\nname: forecast\ndescription: Weather forecasts.\nrequires:\n  bins: [curl]\n---\n# Forecast\n\n"
        '```bash\ncurl -s "https://wttr.in/Paris?format=3"\n```\n\n```python\nimport json\nprint(json.dumps({}))\n```\n'
    ),
    "scripts/parse.py": "import json\nimport sys\n\n\ndef main():\n    print(json.load(sys.stdin).get('current'))\n",
    "scripts/words.py": "import re\n\nWORD = re.compile(r'\\w+')\n\n\ndef count(text):\n    return len(WORD.findall(text))\n",  # noqa: E501
    "scripts/get.sh": '#!/bin/sh\nset -e\ncurl -s "https://wttr.in/$1?format=3"\n',
}


def write(base: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (base / relative).parent.mkdir(parents=True, exist_ok=True)
        (base / relative).write_text(text, encoding="utf-8")
    return base


def test_registered_through_its_entry_point_and_light_until_a_skill_is_scanned(cli_runner, nanofolks_home):
    rows = json.loads(cli_runner(["plugins", "list", "--all", "--json"]).stdout)
    row = next(r for r in rows if r["name"] == "skill-scanner")
    assert row["state"] == "enabled"
    env = {"NANOFOLKS_HOME": str(nanofolks_home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    assert "bandit" not in heavy_modules_after([["plugins", "list"], ["skills", "list"]], env)


def test_scan_prints_file_line_rule_and_reason_then_the_risk(tmp_path, cli_runner):
    folder = write(tmp_path / "forecast", FEW_FILES)
    result = cli_runner(["skills", "scan", str(folder)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "scripts/get.sh:3  network  high/medium  the skill's own script uses the network" in result.stdout
    assert any(line.startswith("SKILL.md:10  network  medium/high  uses the network") for line in lines), lines
    assert lines[-1] == "forecast: risk High (2 findings)"


def test_scan_json_and_an_unreadable_skill_md_still_scans_the_code(tmp_path, cli_runner):
    folder = write(tmp_path / "broken", {"SKILL.md": "no frontmatter here\n", "x.py": "import os\nos.system('id')\n"})
    report = json.loads(cli_runner(["skills", "scan", str(folder), "--json"]).stdout)
    assert report["risk"] == "Critical" and "no frontmatter" in report["error"]
    assert {f["rule"] for f in report["findings"]} >= {"shell-exec", "B605"}
    shell = next(f for f in report["findings"] if f["rule"] == "shell-exec")
    assert (shell["file"], shell["line"], shell["severity"], shell["confidence"]) == ("x.py", 2, "high", "high")


def test_scanning_a_few_file_skill_takes_well_under_a_second(tmp_path):
    folder = write(tmp_path / "forecast", FEW_FILES)
    code = (
        "import time\nt0 = time.perf_counter()\n"
        "from nanofolks_skill_scanner.scanner import SkillSecurityScanner\n"
        f"s = SkillSecurityScanner()\nfound = s.scan({str(folder)!r})\nt1 = time.perf_counter()\n"
        f"for _ in range(5): s.scan({str(folder)!r})\nt2 = time.perf_counter()\n"
        "print(len(found), t1 - t0, (t2 - t1) / 5)\n"
    )
    # Our own interpreter running our own code.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)  # noqa: S603
    count, cold, warm = proc.stdout.split()
    assert int(count) == 2
    # Measured here: cold (bandit imported and set up in this call) ~0.2 s, warm ~10 ms.
    assert float(cold) < 2.0, f"first scan {cold}s"
    assert float(warm) < 0.25, f"scan {warm}s"


def test_a_scan_of_a_missing_folder_is_one_line_and_exit_2(tmp_path, nanofolks_home):
    proc = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "nanofolks_core", "skills", "scan", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        env={**os.environ, "NANOFOLKS_HOME": str(nanofolks_home)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: ") and "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
