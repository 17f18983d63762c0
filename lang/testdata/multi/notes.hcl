this file is not a spec and must be ignored
