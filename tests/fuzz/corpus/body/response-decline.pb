
2026-11-21"iThe boys' shelter in Tak is full until December; the Phitsanulok shelter has places and is asked instead.@