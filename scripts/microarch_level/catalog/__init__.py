"""archspec's data as this project needs it: CPU families, names and levels, how any spelling of a name
is read, how solvers match a build string, which gate builds exist."""
