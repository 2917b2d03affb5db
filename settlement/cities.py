"""The 21 prefecture-level cities of Guangdong, by administrative code.

Chinese names in Simplified characters, as Guangdong writes them.
"""

from __future__ import annotations

from typing import NamedTuple


class City(NamedTuple):
    code: str
    name_en: str
    name_zh: str


CITIES: tuple[City, ...] = (
    City("440100", "Guangzhou", "广州"),
    City("440200", "Shaoguan", "韶关"),
    City("440300", "Shenzhen", "深圳"),
    City("440400", "Zhuhai", "珠海"),
    City("440500", "Shantou", "汕头"),
    City("440600", "Foshan", "佛山"),
    City("440700", "Jiangmen", "江门"),
    City("440800", "Zhanjiang", "湛江"),
    City("440900", "Maoming", "茂名"),
    City("441200", "Zhaoqing", "肇庆"),
    City("441300", "Huizhou", "惠州"),
    City("441400", "Meizhou", "梅州"),
    City("441500", "Shanwei", "汕尾"),
    City("441600", "Heyuan", "河源"),
    City("441700", "Yangjiang", "阳江"),
    City("441800", "Qingyuan", "清远"),
    City("441900", "Dongguan", "东莞"),
    City("442000", "Zhongshan", "中山"),
    City("445100", "Chaozhou", "潮州"),
    City("445200", "Jieyang", "揭阳"),
    City("445300", "Yunfu", "云浮"),
)

CITY_CODES: tuple[str, ...] = tuple(c.code for c in CITIES)
CITIES_BY_CODE: dict[str, City] = {c.code: c for c in CITIES}


def pool_account_id(city_code: str) -> str:
    """The account holding a city's own quota (claims filed by its bureau, reallocations)."""
    return f"POOL-{city_code}"
