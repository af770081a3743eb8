

2026-12-05	”Admitted to the government shelter for boys; medical check done; a guardian is appointed. Family tracing through the TRM starts when he asks for it. 