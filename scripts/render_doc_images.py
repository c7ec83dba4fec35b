"""Render the README's picture of a transfer letter (转办函) from invented sample data.

    .venv/bin/python scripts/render_doc_images.py [OUT_DIR]

writes `transfer-letter.png` (the letter's first page, 1000 px wide) into OUT_DIR (default:
docs/images). The county, units, people and numbers are made up; the matter carries the
masking placeholders a stored text has.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium

from intake.documents import Receiver, TransferLetter, transfer_letter_pdf
from intake.publication import find_font

OUT = Path(__file__).resolve().parent.parent / "docs" / "images"
WIDTH_PX = 1000

SAMPLE = TransferLetter(
    number="云溪巡转〔2026〕7号",
    team="白鹭县委第二巡察组",
    round_name="白鹭县委第二巡察组 2026年第一轮常规巡察",
    unit_name="中共云溪镇委员会",
    receiver=Receiver("human_resources", "白鹭县人力资源和社会保障局",
                      "白鹭县文昌路18号", "999101", "劳动保障监察大队", "0000-7654321"),
    item_ref="第 58 号信访件",
    received_on=date(2026, 3, 10),
    channel="来信",
    title="工地拖欠农民工工资",
    matter="我是在云溪镇溪口村安置房工地干活的农民工，［姓名已隐去］等十几个人从去年十月干到"
           "今年一月，包工头一直拖欠工资，共计约八万元。我们多次找施工单位，对方说开发商没有"
           "付款，互相推诿。春节前去讨要时被赶了出来。\n"
           "希望有关部门帮我们讨回工钱。联系电话［电话号码已隐去］，住址［地址已隐去］。",
    request="请依法督促用人单位支付拖欠的劳动报酬，并将办理情况按时反馈。",
    accept_due=date(2026, 3, 19),
    reply_due=date(2026, 5, 11),
    dated=date(2026, 3, 12),
    contact="联系人：刘明；联系电话：0000-7650000",
)


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else OUT
    out.mkdir(parents=True, exist_ok=True)
    pdf = transfer_letter_pdf(SAMPLE, find_font())
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        image = page.render(scale=WIDTH_PX / page.get_width()).to_pil().convert("L")
    finally:
        document.close()
    path = out / "transfer-letter.png"
    image.save(path, format="PNG", optimize=True)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
