"""Reads the plugin's own metadata.txt (version shown in the provider's long name)."""
import configparser
import os


def plugin_version():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(os.path.dirname(__file__), "metadata.txt"), encoding="utf-8")
    return parser.get("general", "version", fallback="?")
