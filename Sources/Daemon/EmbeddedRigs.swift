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

    /// The simulated rigs for the seeds' other cells, each beside its file in `rigs/`: the protocols under
    /// `protocols/` name one of these (or `sim`) with their `rig:` key. A rig for a further seed is one more entry
    /// here and one more file (a test checks that every entry matches its file).
    static let seedRigs: [(file: String, text: String)] = [
        ("rigs/sim-li-3e.yaml", simLi3E),
        ("rigs/sim-li-microelectrode.yaml", simLiMicroelectrode),
        ("rigs/sim-li-conditioning.yaml", simLiConditioning),
    ]

    /// Every built-in rig: `sim` first, then ``seedRigs``.
    static var all: [(file: String, text: String)] { [(simFileName, sim)] + seedRigs }

    static let simLi3E = """
        # A simulated Li|Li6PS5Cl|Li three-electrode cell as in seed 004: 10 mm electrodes (0.785 cm2), 7 MPa, 25 C,
        # after the 80 C / 7 MPa conditioning. The physics model's li-lpscl preset: sinh kinetics (0.8 Ohm cm2 per
        # interface, i0 about 32 mA/cm2), 1.65 mS/cm over 0.6 mm, voiding above about 0.2 mA/cm2 at 3 MPa (higher at
        # 7 MPa), dendrites once the local plating current density passes 1 mA/cm2. Protocols with
        # `three_electrode: true` get a Li reference beside the working electrode. The shipped protocols written for this
        # rig say `rig: sim-li-3e`.
        schema: 1
        id: sim-li-3e
        name: Simulated Li|Li6PS5Cl|Li three-electrode cell at 7 MPa (physics model)
        cell:
          label: sim-Li-LPSCl-3E-1
          metal: Li
          electrolyte: Li6PS5Cl
          electrolyte_thickness: 0.6 mm
          electrode_area: 0.785 cm2
          metal_thickness: 100 um
          pretreatment: 80 C, 7 MPa (seed 004)
          stack_pressure: 7 MPa
          temperature: 25 C
        limits:
          voltage: 5 V
          current: 50 mA
        galvanostat:
          driver: simulated
          speed: max
          model: physics
          preset: li-lpscl
          seed: 4

        """

    static let simLiConditioning = """
        # Seed 004's rig with its heated clamp, simulated in process: the Li|Li6PS5Cl|Li three-electrode cell of
        # rigs/sim-li-3e.yaml (10 mm electrodes, 7 MPa, 25 C, the physics model's li-lpscl preset) with a heater that
        # `set_temperature` steps drive. The cell's temperature follows the setpoint as a first-order lag of 5 min, and the
        # kinetics and conductivity follow the temperature (Arrhenius). protocols/conditioned-ccd-3e.yaml is written for
        # it; rigs/sim-serial-li-conditioning.yaml runs the same procedure on the serial drivers and wire simulators.
        schema: 1
        id: sim-li-conditioning
        name: Simulated Li|Li6PS5Cl|Li three-electrode cell at 7 MPa with a heated clamp (physics model)
        cell:
          label: sim-Li-LPSCl-3E-2
          metal: Li
          electrolyte: Li6PS5Cl
          electrolyte_thickness: 0.6 mm
          electrode_area: 0.785 cm2
          metal_thickness: 100 um
          pretreatment: none (the protocol conditions it at 80 C and 7 MPa)
          stack_pressure: 7 MPa
          temperature: 25 C
        limits:
          voltage: 5 V
          current: 50 mA
        galvanostat:
          driver: simulated
          speed: max
          model: physics
          preset: li-lpscl
          seed: 5
          heater:
            max_setpoint: 120 C
            time_constant: 300 s

        """

    static let simLiMicroelectrode = """
        # A simulated Li microelectrode on Li6PS5Cl as in seed 003: a 10 um disc (78.54 um2) against a large Li counter,
        # with a Li reference, at 5 MPa and 25 C. The physics model's li-lpscl-microelectrode preset: the Li|LPSCl
        # interface (0.8 Ohm cm2, i0 about 32 mA/cm2, so about 25 nA of exchange current on this disc, and the sinh law
        # that makes a +/-10 mV CV visibly non-linear), the electrolyte's spreading resistance 1/(2 sigma d) of about
        # 300 kOhm, and the noise of a low-current range. Currents are nA to uA. The shipped protocols written for this
        # rig say `rig: sim-li-microelectrode`.
        schema: 1
        id: sim-li-microelectrode
        name: Simulated Li microelectrode on Li6PS5Cl, three-electrode (physics model)
        cell:
          label: sim-Li-micro-1
          metal: Li
          electrolyte: Li6PS5Cl
          electrode_area: 78.54 um2
          metal_thickness: 100 um
          stack_pressure: 5 MPa
          temperature: 25 C
        limits:
          voltage: 5 V
          current: 10 uA
        galvanostat:
          driver: simulated
          speed: max
          model: physics
          preset: li-lpscl-microelectrode
          seed: 3

        """
}
