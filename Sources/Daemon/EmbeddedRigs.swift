/// The text of `rigs/sim.yaml`, built in so that `cellrigd` runs without any rig directory.
///
/// A test checks that it matches the file in the repository.
enum EmbeddedRigs {
    static let simFileName = "rigs/sim.yaml"
    static let sim = """
        # The simulated rig cellrigd uses when no rig directory is given: no hardware needed.
        # A K|K-beta''-alumina|K symmetric cell as in seed 000 (5 mm electrodes, 20 C, 2.5 MPa) whose
        # simulated dendrite short starts once the current density reaches 4.8 mA/cm2.
        schema: 1
        id: sim
        name: Simulated K|K-beta''-alumina|K symmetric cell
        cell:
          label: sim-K-BASE-1
          metal: K
          electrolyte: K-beta''-alumina
          electrolyte_thickness: 1 mm
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
          seed: 1
          bulk_resistance: 100 Ohm cm2
          interfacial_resistance: 21 Ohm cm2
          critical_current_density: 4.8 mA/cm2
          short_delay: 60 s
          short_resistance: 5 Ohm
          noise: 0.1 mV

        """
}
