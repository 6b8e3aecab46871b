"""Names (and a few course titles) in every script a certificate must print, shared by the
rendering tests and the contact sheet (``docs/certificate_contact_sheet.py``)."""

DEFAULT_TITLE = "Intro to Algorithms"
LONG_TITLE = ("Foundations of Distributed Systems Engineering: Consensus, Replication, Fault Tolerance, "
              "Observability and Capacity Planning for Large-Scale Cloud-Native Platforms, with Case Studies "
              "from Payments, Streaming Media and Scientific Computing at Planetary Scale (Spring)")
LONG_NAME = ("Maximilian Alexander Bartholomew Friedrich Wilhelm von Hohenzollern-Sigmaringen "
             "und Habsburg-Lothringen")

# label -> (name, course title)
SAMPLES: dict[str, tuple[str, str]] = {
    "Latin, diacritics": ("Zoë Ångström-Núñez", DEFAULT_TITLE),
    "Vietnamese": ("Nguyễn Thị Minh Khai", "Nhập môn Thuật toán"),
    "Polish, Turkish": ("Łukasz Żółć-İnönü", DEFAULT_TITLE),
    "Greek": ("Ελένη Παπαδοπούλου", "Αλγόριθμοι"),
    "Cyrillic": ("Дмитрий Шостакович", "Введение в алгоритмы"),
    "Armenian": ("Արամ Խաչատրյան", DEFAULT_TITLE),
    "Georgian": ("ნინო ბურჯანაძე", DEFAULT_TITLE),
    "Hebrew": ("דָּוִד בֶּן־גּוּרְיוֹן", "מבוא לאלגוריתמים"),
    "Arabic with harakat": ("مُحَمَّد عَلِيّ", "مقدمة في الخوارزميات"),
    "Persian": ("فاطمه رضایی", DEFAULT_TITLE),
    "Urdu": ("عمران خان", DEFAULT_TITLE),
    "Devanagari (Hindi)": ("श्रीनिवास रामानुजन्", "एल्गोरिदम का परिचय"),
    "Bengali": ("রবীন্দ্রনাথ ঠাকুর", DEFAULT_TITLE),
    "Tamil": ("சுப்பிரமணிய பாரதி", DEFAULT_TITLE),
    "Thai": ("ภูมิพล อดุลยเดช", "ความรู้เบื้องต้นเกี่ยวกับอัลกอริทึม"),
    "Ethiopic (Amharic)": ("ኃይለ ሥላሴ", DEFAULT_TITLE),
    "Chinese": ("王小明", "算法导论"),
    "Japanese": ("山田 たろう", "アルゴリズム入門"),
    "Korean": ("김민준", "알고리즘 입문"),
    "Emoji": ("Ana 🎓 Lima 👩‍💻✨", DEFAULT_TITLE),
    "Mixed RTL/LTR": ("Sara سارا Levi לוי", DEFAULT_TITLE),
    "Mixed scripts": ("José 李 Müller", DEFAULT_TITLE),
    "Long name": (LONG_NAME, DEFAULT_TITLE),
    "Long title": ("Ada Lovelace", LONG_TITLE),
}
