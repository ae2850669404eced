"""EMVA 1288 linear sensor model of the CMV2000 class (Basler acA2000-50gm), lux → Mono8.

Radiometric chain (EMVA 1288 linear camera model), per pixel of reflectance ``R``:

1. Sensor-plane illuminance ``E_s = E_v·R·T / (4N²)`` (lx) for a Lambertian object at illuminance ``E_v``.
2. Photo-electrons ``μ_e = η·k_ph·A_pix·E_s·t`` with ``k_ph`` = 1.1e4 photons s⁻¹ µm⁻² lx⁻¹ (broadband white
   light) and a spectrally weighted ``η`` = 0.5; plus dark electrons ``I_dark·t`` (125 e⁻/s at 25 °C).
3. Temporal noise: shot noise (variance = μ_e) plus read noise σ_d = 13 e⁻, drawn as one Gaussian of variance
   ``μ_e + σ_d²`` (the EMVA photon-transfer relation; exact in mean and variance).
4. Full-well clipping at 13.5 ke⁻, system gain K ≈ 0.30 DN/e⁻ (12-bit), black level, 12-bit ADC,
   then Mono8 = DN12 / 16 (Basler's Mono8 output).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class SensorModel:
    """EMVA 1288 parameters; defaults are the ams CMV2000 figures (the acA2000-50gm's sensor, its EMVA 1288 data sheet).

    Attributes:
        pixel_area_um2: pixel area (µm²); 5.5 µm pitch → 30.25 µm².
        quantum_efficiency: spectrally weighted η for white light (e⁻/photon).
        photons_per_lux_um2_s: photon flux per lux (photons s⁻¹ µm⁻² lx⁻¹), broadband white light.
        lens_transmission: main + liquid lens transmission T.
        read_noise_e: temporal dark noise σ_d (e⁻ RMS).
        dark_current_e_per_s: dark current at 25 °C (e⁻/s).
        full_well_e: saturation capacity (e⁻).
        gain_dn_per_e: system gain K at 12 bit (DN/e⁻); ≈0.30, set so that the full well lands on the
            ADC maximum (16 + 13 500·0.3022 ≈ 4095 DN12 → Mono8 255).
        black_level_dn: offset added before the ADC (DN12).
        adc_bits: ADC resolution (bits).
    """

    pixel_area_um2: float = 30.25
    quantum_efficiency: float = 0.5
    photons_per_lux_um2_s: float = 1.1e4
    lens_transmission: float = 0.9
    read_noise_e: float = 13.0
    dark_current_e_per_s: float = 125.0
    full_well_e: float = 13_500.0
    gain_dn_per_e: float = 0.3022
    black_level_dn: float = 16.0
    adc_bits: int = 12

    def electrons_per_lux_second(self, f_number: float) -> float:
        """Mean photo-electrons per pixel per (lx·s) of scene illuminance on a reflectance-1 surface."""
        return (
            self.quantum_efficiency
            * self.photons_per_lux_um2_s
            * self.pixel_area_um2
            * self.lens_transmission
            / (4.0 * f_number * f_number)
        )

    def expose(
        self,
        reflectance: np.ndarray,
        lux: float,
        exposure_s: float,
        f_number: float,
        rng: np.random.Generator | None,
    ) -> tuple[np.ndarray, float, float]:
        """Render a Mono8 frame from a reflectance map (0–1, float32).

        Args:
            reflectance: per-pixel reflectance (already blurred by the optics).
            lux: scene illuminance (lx).
            exposure_s: exposure time (s).
            f_number: current f-number.
            rng: noise source; None renders the noise-free mean image (for tests and ground truth).

        Returns:
            ``(mono8, saturated_fraction, mean_electrons)``.
        """
        gain = np.float32(self.electrons_per_lux_second(f_number) * lux * exposure_s)
        mu_e = reflectance * gain
        mu_e += np.float32(self.dark_current_e_per_s * exposure_s)
        mean_e = float(mu_e.mean())
        if rng is not None:
            sigma = np.sqrt(mu_e + np.float32(self.read_noise_e**2))
            e = mu_e + sigma * rng.standard_normal(mu_e.shape, dtype=np.float32)
        else:
            e = mu_e
        np.clip(e, 0.0, self.full_well_e, out=e)
        max_dn = float(2**self.adc_bits - 1)
        dn = e * np.float32(self.gain_dn_per_e) + np.float32(self.black_level_dn)
        np.clip(dn, 0.0, max_dn, out=dn)
        # 12-bit ADC (round to integer DN), then Mono8 = DN12 // 16.
        mono8 = (np.rint(dn) * np.float32(1.0 / 2 ** (self.adc_bits - 8))).astype(np.uint8)
        saturated = float(np.count_nonzero(e >= self.full_well_e)) / e.size
        return mono8, saturated, mean_e
