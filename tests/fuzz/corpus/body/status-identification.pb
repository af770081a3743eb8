
2026-11-21 (:_Identified by the provincial multidisciplinary team; the 45-day reflection period starts today.