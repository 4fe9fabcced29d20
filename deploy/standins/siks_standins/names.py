"""Small built-in name lists for the synthetic population.

Common Indonesian given names, split by sex and with a regional flavour per province
(Sundanese for Jawa Barat, Javanese for Jawa Tengah), so demo data looks plausible.
They are lists of common names, not of people.
"""

# Names used everywhere (largely Arabic-derived or pan-Indonesian).
COMMON_MALE = (
    "Ahmad", "Agus", "Budi", "Dedi", "Eko", "Fajar", "Hendra", "Irfan", "Joko", "Muhammad",
    "Rizki", "Rudi", "Taufik", "Wahyu", "Yusuf", "Hasan", "Ilham", "Arif", "Bayu", "Dimas",
)
COMMON_FEMALE = (
    "Siti", "Nurul", "Dewi", "Fitri", "Rina", "Ratna", "Yuni", "Aisyah", "Aminah", "Indah",
    "Lestari", "Maya", "Novi", "Putri", "Sri", "Wulan", "Anisa", "Fatimah", "Rahmawati", "Ayu",
)

# Second names; Indonesians rarely have family names, so these are just second given names.
SECOND_MALE = (
    "Saputra", "Hidayat", "Setiawan", "Kurniawan", "Nugroho", "Pratama", "Ramadhan", "Santoso",
    "Firmansyah", "Hakim", "Maulana", "Prasetyo", "Wibowo", "Gunawan", "Permana",
)
SECOND_FEMALE = (
    "Lestari", "Wulandari", "Rahayu", "Handayani", "Susanti", "Kurniasih", "Safitri", "Anggraini",
    "Puspitasari", "Maharani", "Nurhayati", "Fauziah", "Oktaviani", "Suryani", "Permatasari",
)

# Regional flavour, keyed by 2-digit province code.
REGIONAL_MALE = {
    "32": ("Asep", "Ujang", "Dadang", "Cecep", "Jajang", "Encep", "Yayan", "Tatang", "Aep", "Iwan"),
    "33": ("Slamet", "Sugeng", "Paijo", "Sutrisno", "Supriyadi", "Wagiman", "Sutarno", "Bambang", "Sigit", "Teguh"),
}
REGIONAL_FEMALE = {
    "32": ("Euis", "Iis", "Lilis", "Neneng", "Dedeh", "Enok", "Yuyun", "Nunung", "Cucu", "Imas"),
    "33": ("Sulastri", "Sumarni", "Sundari", "Tumini", "Painem", "Ngatini", "Suparmi", "Sriyati", "Endang", "Warsini"),
}

STREET_NAMES = (
    "Mawar", "Melati", "Kenanga", "Anggrek", "Flamboyan", "Cempaka", "Sukamaju", "Mekarsari",
    "Sukarame", "Margahayu", "Babakan", "Pasirjati", "Sidomulyo", "Karanganyar", "Tegalrejo",
)
# Village addresses are as often a kampung/dusun as a named street.
STREET_KINDS = ("Jl.", "Gg.", "Kp.", "Dusun")

# Birthplaces outside the home regency, for the minority born elsewhere.
OTHER_BIRTHPLACES = (
    "Jakarta", "Bandung", "Garut", "Tasikmalaya", "Cirebon", "Semarang", "Surakarta",
    "Yogyakarta", "Surabaya", "Bogor", "Kendal", "Demak",
)
