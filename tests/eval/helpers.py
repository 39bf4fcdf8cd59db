"""Small builders shared by the eval tests."""

from __future__ import annotations

from core.types import PUBLIC, Chunk


def chunk(document_id: str, text: str, start: int = -1, ordinal: int = 0, strategy: str = "tokens") -> Chunk:
    return Chunk(
        document_id=document_id,
        ordinal=ordinal,
        text=text,
        index_text=text,
        heading_path=(),
        token_count=len(text.split()),
        strategy=strategy,
        principals=(PUBLIC,),
        title="t",
        url="",
        source="eval",
        start_char=start,
    )
