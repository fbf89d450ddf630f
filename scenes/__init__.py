"""The shipped scenes (TOML data, no code).

`fctwin scenes` lists them; `fctwin scenes copy NAME [DIR]` writes one out.
"""
