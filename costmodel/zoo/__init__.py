"""The shipped specs (package data): `costmodel zoo` lists them, `costmodel profile NAME` runs one."""
