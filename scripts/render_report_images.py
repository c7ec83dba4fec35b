"""Render the README's picture of a weekly intake report (周报) from invented sample data.

    .venv/bin/python scripts/render_report_images.py [OUT_DIR]

fills intake/templates/weekly_report.docx with made-up figures (intake.reportdocs), converts
the DOCX to PDF with LibreOffice (`soffice --headless`, Debian `libreoffice-writer-nogui`),
and writes the first page, 1000 px wide, as `weekly-report.png` into OUT_DIR (default:
docs/images). The team, units, numbers and staff are made up. LibreOffice substitutes the
fonts Word would use (仿宋, 黑体, 方正小标宋) with the installed Noto CJK ones, so line breaks
may differ slightly from Word's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium

from intake.reportdocs import (
    CountRow,
    LeadLine,
    OverdueLine,
    TransferLine,
    WeeklyReport,
    weekly_report_docx,
)

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
WIDTH_PX = 1000
CHANNELS = (("网络举报", 6, 21), ("码上巡察", 2, 5), ("电子邮箱", 3, 9), ("值班电话", 4, 14),
            ("来信", 2, 8), ("意见箱", 1, 4), ("来访", 1, 3))

SAMPLE = WeeklyReport(
    team="白鹭县委第二巡察组", round_name="白鹭县委第二巡察组 2026年第一轮常规巡察",
    unit="中共云溪镇委员会", week_no=3, iso_week="2026-W12",
    start=date(2026, 3, 16), end=date(2026, 3, 22), opened=date(2026, 3, 2),
    as_of=date(2026, 3, 22), dated=date(2026, 3, 23),
    received=CountRow("合计", 19, 64),
    channels=[CountRow(n, w, t) for n, w, t in CHANNELS],
    triage=[CountRow("属于受理范围", 11, 38), CountRow("不属于受理范围", 5, 21),
            CountRow("待研判", 3, 5)],
    disciplines=[CountRow("政治纪律", 1, 3), CountRow("组织纪律", 2, 7),
                 CountRow("廉洁纪律", 7, 24), CountRow("群众纪律", 5, 17),
                 CountRow("工作纪律", 3, 9), CountRow("生活纪律", 1, 2)],
    leads=[LeadLine("云溪巡线〔2026〕012号", date(2026, 3, 16), "村党支部书记", "廉洁纪律",
                    "刘明", "初步核实"),
           LeadLine("云溪巡线〔2026〕013号", date(2026, 3, 17), "镇财政所所长",
                    "廉洁纪律、工作纪律", "陈思", "已受理"),
           LeadLine("云溪巡线〔2026〕014号", date(2026, 3, 19), "班子成员", "生活纪律", "刘明",
                    "谈话函询")],
    leads_total=14,
    transfers=[TransferLine("云溪巡转〔2026〕7号", "第58号件", "白鹭县人力资源和社会保障局",
                            date(2026, 3, 17), "已受理，待反馈结果", False),
               TransferLine("云溪巡转〔2026〕8号", "第61号件", "白鹭县民政局",
                            date(2026, 3, 20), "已转出，待受理", False)],
    transfers_total=8,
    closed=[CountRow("谈话函询", 1, 2), CountRow("予以了结", 2, 5), CountRow("转办办结", 1, 3)],
    overdue=[OverdueLine("云溪巡转〔2026〕3号", "转办结果", date(2026, 3, 20))],
    repeats=CountRow("重复件", 2, 6), notices=CountRow("告知反映人", 5, 17),
)


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        sys.exit("LibreOffice is not installed (apt-get install libreoffice-writer-nogui).")
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "weekly.docx"
        source.write_bytes(weekly_report_docx(SAMPLE))
        # Its own profile: a user's running LibreOffice would otherwise take the job.
        command = [office, f"-env:UserInstallation=file://{work}/profile", "--headless",
                   "--convert-to", "pdf", "--outdir", work, str(source)]
        subprocess.run(command, check=True, capture_output=True, timeout=180)  # noqa: S603
        document = pdfium.PdfDocument(str(Path(work) / "weekly.pdf"))
        try:
            page = document[0]
            image = page.render(scale=WIDTH_PX / page.get_width()).to_pil().convert("L")
        finally:
            document.close()
    path = out / "weekly-report.png"
    image.save(path, format="PNG", optimize=True)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
