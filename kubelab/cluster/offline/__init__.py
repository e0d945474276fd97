"""The offline build: everything a kind cluster needs, from Go modules and Debian packages.

Used where no container registry can be reached; see clusters/offline/pins.toml.
"""
