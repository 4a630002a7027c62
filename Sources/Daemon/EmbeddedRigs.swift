/// The text of `rigs/sim.yaml`, built in so that `cellrigd` runs without any rig directory.
///
/// A test checks that it matches the file in the repository.
enum EmbeddedRigs {
    static let simFileName = "rigs/sim.yaml"
    static let sim = """
        # The simulated rig cellrigd uses when no rig directory is given: no hardware needed.
        # A K|K-beta''-alumina|K cell as in seed 000 (5 mm electrodes, 20 C, 2.5 MPa), simulated by the physics
        # model's k-beta-alumina preset: sinh interface kinetics on the real contact area, voiding above about
        # 2 mA/cm2 at 2.5 MPa, dendrites once the local plating current density passes 4.8 mA/cm2, nucleation
        # and relaxation transients, noise, drift and rare spikes. Protocols with `three_electrode: true` get a
        # reference electrode beside the working electrode.
        schema: 1
        id: sim
        name: Simulated K|K-beta''-alumina|K cell (physics model)
        cell:
          label: sim-K-BASE-1
          metal: K
          electrolyte: K-beta''-alumina
          electrolyte_thickness: 0.5 mm
          electrode_area: 0.196 cm2
          metal_thickness: 500 um
          stack_pressure: 2.5 MPa
          temperature: 20 C
        limits:
          voltage: 5 V
          current: 20 mA
        galvanostat:
          driver: simulated
          speed: max
          model: physics
          preset: k-beta-alumina
          seed: 1
          # Any model parameter may be overridden here, by its name (the unit is in the name), e.g.:
          # parameters:
          #   dendriteCCD_mA_cm2: 4.8
          #   voltageNoise_V: 0.0001

        """
}
