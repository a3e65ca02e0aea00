#!/usr/bin/env python3
"""Build the recorded-noise folders (train/ and test/) from bare clones of their repositories.
Decodes each source blob (git show <commit>:<path>), downmixes to mono,
resamples to 16 kHz (soxr VHQ), writes PCM16 WAV, and writes manifest.tsv.
Usage: python build_noise.py MIRROR OUT  (MIRROR holds <owner>+<name>/repo bare clones;
needs numpy, soundfile, soxr)"""
import hashlib, io, os, subprocess, sys
import numpy as np, soundfile as sf, soxr

MIRROR, OUT = (sys.argv[1:3] + ["/work/.mirror", "/work/data/noise"])[:2] if len(sys.argv) < 3 \
    else sys.argv[1:3]
REPOS = {
  "rafaelmardojai/blanket": ("rafaelmardojai+blanket", "8b1c27aedde1d6ad8053ce5ad351a2924bcdb766"),
  "consint/Tumult": ("consint+Tumult", "723c05ffbb55323f3ee2fb7a75228fac7c776ef2"),
  "chaeyoung-lee/wids_tutorial": ("chaeyoung-lee+wids_tutorial", "7d028e7211c846244903eb59664087f1fb3e4c07"),
  "DrunkenToast/gui-project": ("DrunkenToast+gui-project", "52d6f58b32c44ef118428c1ef801785a8981fea4"),
}
G = "DrunkenToast/gui-project"
B, T, S = "rafaelmardojai/blanket", "consint/Tumult", "chaeyoung-lee/wids_tutorial"
BL = "data/resources/sounds/"; TM = "Samples/"; SC = "data/_background_noise_/"
LB = {"CC0": "CC0-1.0", "BY": "CC-BY (version unstated; Blanket SOUNDS_LICENSING.md)",
      "BY3": "CC-BY-3.0", "PD": "Public Domain", "TCC0": "CC0-1.0", "SC": "CC-BY-4.0", "BY4": "CC-BY-4.0"}
# (repo, path, split, family, fine_type, licence, speech_like, original-source note)
ITEMS = [
 # ---------------- TRAIN ----------------
 (T, TM+"machine/machine1_computer_fan_hum_cut.wav", "train", "fan_hvac_appliance", "computer_fan", "TCC0", "no", "freesound 350928 (Gutek)"),
 (T, TM+"machine/machine3_fridge-hum-kitchen-2012_cut.wav", "train", "fan_hvac_appliance", "fridge_hum", "TCC0", "no", "freesound 616830 (TRP)"),
 (T, TM+"machine/machine4_fridge-hum-loud-saint-john_cut.wav", "train", "fan_hvac_appliance", "fridge_hum", "TCC0", "no", "freesound 573933 (TRP)"),
 (T, TM+"machine/machine7_oven-hum-2_cut.wav", "train", "fan_hvac_appliance", "kitchen_appliance_hum", "TCC0", "no", "freesound 659645 (felixdembinski)"),
 (T, TM+"machine/machine10_vending-machine-hum_cut.wav", "train", "fan_hvac_appliance", "vending_machine_hum", "TCC0", "no", "freesound 730438 (HECKFRICKER)"),
 (T, TM+"machine/machine11_washing-machine-rinse.wav", "train", "fan_hvac_appliance", "washing_machine", "TCC0", "no", "freesound 384121 (afnan808)"),
 (T, TM+"machine/machine2_dough-machine-electricity-001_cut.wav", "train", "machinery", "mechanical_machine", "TCC0", "no", "freesound 650536 (frenkfurth)"),
 (T, TM+"machine/machine6_lettersort.wav", "train", "machinery", "mechanical_machine", "TCC0", "no", "freesound 233594 (SortsApostata)"),
 (S, SC+"exercise_bike.wav", "train", "machinery", "exercise_bike", "SC", "no", "Speech Commands v0.02 _background_noise_ (Pete Warden)"),
 (T, TM+"hum/hum3_joedeshon__electrical_hum_01_cut.wav", "train", "electrical_hum", "electrical_hum", "TCC0", "no", "freesound 320871 (joedeshon)"),
 (T, TM+"hum/hum4_loose-connection-feedback-hum.wav", "train", "electrical_hum", "electrical_hum", "TCC0", "no", "freesound 159633 (hiddenpersuader)"),
 (T, TM+"hum/hum5_vhs-hum.wav", "train", "electrical_hum", "electrical_hum", "TCC0", "no", "freesound 166178 (jacobzeier)"),
 (S, SC+"doing_the_dishes.wav", "train", "domestic", "kitchen_dishes", "SC", "unknown", "Speech Commands v0.02 _background_noise_ (Pete Warden)"),
 (S, SC+"running_tap.wav", "train", "domestic", "running_tap", "SC", "no", "Speech Commands v0.02 _background_noise_ (Pete Warden)"),
 (S, SC+"dude_miaowing.wav", "train", "domestic", "pet_cat", "SC", "unknown", "Speech Commands v0.02 _background_noise_ (Pete Warden)"),
 (B, BL+"coffee-shop.ogg", "train", "babble", "cafe_restaurant", "PD", "yes", "soundbible 1664 Restaurant Ambiance (stephan)"),
 (B, BL+"city.ogg", "train", "street_traffic", "city_street", "BY", "unknown", "freesound 44796 (gezortenplotz)"),
 (B, BL+"train.ogg", "train", "transport", "train_ride", "BY3", "no", "freesound 259988 (SDLx)"),
 (B, BL+"rain.ogg", "train", "rain", "rain_nature", "BY", "no", "freesound 524605 (alex36917)"),
 (B, BL+"storm.ogg", "train", "rain", "rain_nature", "BY", "no", "freesound 41739 (digifishmusic)"),
 (T, TM+"world/rain1_field_la-rain_park_under-stone-bridge_02.wav", "train", "rain", "rain_nature", "TCC0", "no", "freesound 467172 (WilliamJMeyer)"),
 (T, TM+"world/rain2_forest-cabin-summer-rain-5.wav", "train", "rain", "rain_nature", "TCC0", "no", "freesound 719059 (giddster)"),
 (T, TM+"world/rain3_rain-and-thunder-in-the-countryside.wav", "train", "rain", "rain_nature", "TCC0", "no", "freesound 645918 (BonnyOrbit)"),
 (B, BL+"fireplace.ogg", "train", "fire", "fire", "PD", "no", "soundbible 1543 Fireplace (ezwa)"),
 (T, TM+"world/fire1_ambiance_campfire_loop_stereo.wav", "train", "fire", "fire", "TCC0", "no", "freesound 558967 (Nox_Sound)"),
 (T, TM+"world/fire2.wav", "train", "fire", "fire", "TCC0", "no", "freesound 47835 (tc630)"),
 (T, TM+"world/fire3_campfire-01.wav", "train", "fire", "fire", "TCC0", "no", "freesound 729395 (HECKFRICKER)"),
 (T, TM+"world/fire4_campfire.wav", "train", "fire", "fire", "TCC0", "no", "freesound 637524 (kyles)"),
 (B, BL+"waves.ogg", "train", "water", "sea_waves", "BY", "no", "freesound 48412 (Luftrum)"),
 (B, BL+"wind.ogg", "train", "nature", "wind", "CC0", "no", "freesound 217506 (felix.blume)"),
 (B, BL+"birds.ogg", "train", "nature", "birds", "CC0", "no", "freesound 156826 (kvgarlic)"),
 (B, BL+"summer-night.ogg", "train", "nature", "insects_night", "PD", "no", "soundbible 2083 Crickets Chirping At Night (Lisa Redfern)"),
 (G, "sounds/farm.ogg", "train", "nature", "farm_animals", "CC0", "no", "freesound 567523 (titi2)"),
 (G, "sounds/leaves.ogg", "train", "nature", "rustling_leaves", "BY4", "no", "freesound 78955 (juskiddink)"),
 (G, "sounds/owls.ogg", "train", "nature", "owls_night", "BY4", "no", "freesound 63220 (Benboncan)"),
 # ---------------- TEST (fine types disjoint from train) ----------------
 (G, "sounds/construction.ogg", "test", "machinery", "construction_site", "BY3", "unknown", "freesound 98024 (Tomlija)"),
 (T, TM+"machine/machine5_furnace-propane-pump-hum-rattle-nearby.wav", "test", "fan_hvac_appliance", "hvac_ventilation", "TCC0", "no", "freesound 454030 (kyles)"),
 (T, TM+"machine/machine8_tattoo-air-conditioning-blowing-traffic-hum-outside_cut.wav", "test", "fan_hvac_appliance", "hvac_ventilation", "TCC0", "no", "freesound 711101 (felix.blume)"),
 (T, TM+"machine/machine9_thailand-hotel-hallway-heavy-ventilation-hum-distant-voices-man-spits-middle.wav", "test", "fan_hvac_appliance", "hvac_ventilation", "TCC0", "yes", "freesound (kyles; sound id not given in Samples/README.md)"),
 (T, TM+"world/crowd_large_crowd_medium_distance_stereo.wav", "test", "babble", "crowd_outdoor", "TCC0", "yes", "freesound 360703 (eguobyte)"),
 (T, TM+"world/underground_large-underground-metro-station-heavy-ventilation-and-distant-echo-voices.wav", "test", "transport", "metro_station", "TCC0", "yes", "freesound 450924 (kyles)"),
 (B, BL+"boat.ogg", "test", "transport", "boat_engine", "CC0", "no", "freesound 439365 (Falcet)"),
 (T, TM+"world/city1_city-ambiance-heavy-snow-wind.wav", "test", "street_traffic", "city_distant_traffic", "TCC0", "unknown", "freesound 617560 (itinerantmonk108)"),
 (T, TM+"world/city3_distant-city-evening-traffic-5th-floor-balcony.wav", "test", "street_traffic", "city_distant_traffic", "TCC0", "unknown", "freesound 371250 (risto_alcinov)"),
 (T, TM+"world/rain4_rain-in-the-midnight-city.wav", "test", "rain", "rain_urban", "TCC0", "no", "freesound 708153 (lastraindrop)"),
 (T, TM+"world/rain5_rain-thunder-and-traffic.wav", "test", "rain", "rain_urban", "TCC0", "no", "freesound 437338 (giddster)"),
 (T, TM+"world/waterfall1_hidden-waterfall.wav", "test", "water", "waterfall_river", "TCC0", "no", "freesound 632107 (BassmanJourney)"),
 (T, TM+"world/waterfall2_krka_waterfall2_f_4824.wav", "test", "water", "waterfall_river", "TCC0", "no", "freesound 195715 (blaukreuz)"),
 (T, TM+"world/waterfall3_turbulent-river-waterfall.wav", "test", "water", "waterfall_river", "TCC0", "no", "freesound 727861 (zazz.sound.design)"),
 (T, TM+"world/waterfall4_sound.wav", "test", "water", "waterfall_river", "TCC0", "no", "freesound 660255 (Tom_Kaszuba)"),
]
LICTXT = {B: "SOUNDS_LICENSING.md", T: "Samples/README.md", S: "Speech Commands _background_noise_/README.md (CC BY 4.0); not in this repo", G: "sounds/sound_licensing_blanket.md"}

def main():
    rows = []
    seen_types = {"train": set(), "test": set()}
    for repo, path, split, fam, ftype, lic, speech, orig in ITEMS:
        d, commit = REPOS[repo]
        data = subprocess.run(["git", "--git-dir", f"{MIRROR}/{d}/repo", "show", f"{commit}:{path}"],
                              check=True, capture_output=True).stdout
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        x = x.mean(axis=1)
        if sr != 16000:
            x = soxr.resample(x, sr, 16000, quality="VHQ")
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak > 0.999:  # avoid clipping after resampling
            x = x * (0.999 / peak)
        name = os.path.splitext(os.path.basename(path))[0] + ".wav"
        dst = os.path.join(OUT, split, name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        sf.write(dst, x, 16000, subtype="PCM_16")
        h = hashlib.sha256(open(dst, "rb").read()).hexdigest()
        src_sha = hashlib.sha256(data).hexdigest()
        seen_types[split].add(ftype)
        rows.append([f"{split}/{name}", split, fam, ftype, f"{len(x)/16000:.2f}", h, repo, commit, path,
                     LB[lic], LICTXT[repo], speech, str(sr), src_sha, orig])
        print(split, name, sr, f"{len(x)/16000:.1f}s", file=sys.stderr)
    assert not (seen_types["train"] & seen_types["test"]), seen_types["train"] & seen_types["test"]
    hdr = ["file", "split", "noise_family", "noise_type", "seconds", "sha256", "source_repo", "source_commit",
           "source_path", "licence", "licence_text_location", "speech_like", "orig_sr", "source_blob_sha256", "original_source"]
    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("\t".join(hdr) + "\n")
        for r in rows: f.write("\t".join(r) + "\n")

if __name__ == "__main__":
    main()
