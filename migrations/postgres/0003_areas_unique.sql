-- Two areas of the same kind cannot share a name: re-importing a file replaces them by name.
CREATE UNIQUE INDEX areas_name_kind_key ON areas (name, kind);
