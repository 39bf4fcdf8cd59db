from core.tokens import count_tokens, encoding_for_model, get_encoding


def test_offline_encodings_round_trip():
    for name in ("cl100k_base", "o200k_base"):
        enc = get_encoding(name)
        ids = enc.encode("Kura answers 経費精算 questions.")
        assert enc.decode(ids) == "Kura answers 経費精算 questions."
    # Known token ids of cl100k_base: "hello world" -> [15339, 1917]
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert count_tokens("hello world") == 2


def test_model_names_map_to_bundled_encodings():
    assert encoding_for_model("gpt-4o-mini").name == "o200k_base"
    assert encoding_for_model("some-local-llama").name == "cl100k_base"
