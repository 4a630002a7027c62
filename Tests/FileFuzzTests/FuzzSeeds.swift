import Domain
import Replay
import TestSupport

/// The valid files the fuzz test mutates: the shipped protocols and rigs, and a sample CSV as `cellrig export --csv`
/// writes it (metadata block with the protocol text, every column, flagged samples).
enum FuzzSeeds {
    static let protocolPaths = [
        "protocols/ccd-step-symmetric.yaml", "protocols/ccd-plating-step-3e.yaml", "protocols/stripping-3e.yaml",
        "protocols/microelectrode-staircase.yaml", "protocols/eis-potentiostatic.yaml",
        "protocols/conditioned-ccd-3e.yaml",
    ]
    static let rigPaths = [
        "rigs/sim.yaml", "rigs/sim-ohmic.yaml", "rigs/sim-serial.yaml", "rigs/sim-serial-li-conditioning.yaml",
        "rigs/sim-li-conditioning.yaml",
    ]

    static func seeds(for kind: FuzzedFileKind) throws -> [(name: String, text: String)] {
        switch kind {
        case .protocolFile:
            var seeds = try protocolPaths.map { ($0, try TestSupport.readRepositoryFile($0)) }
            seeds.append(("guarded", guardedProtocol))
            return seeds
        case .rigFile: return try rigPaths.map { ($0, try TestSupport.readRepositoryFile($0)) }
        case .sampleCSV: return [("export.csv", try sampleCSV())]
        }
    }

    /// A protocol whose guards need cell data (a stack-pressure setpoint, the metal's thickness), so that deleting
    /// a line leaves errors that only building the criteria finds.
    static let guardedProtocol = """
        schema: 1
        name: guarded
        parameters:
          density: 1 mA/cm2
        conditions:
          stack_pressure: 2.5 MPa
        steps:
          - rest: {duration: 10 s}
          - loop:
              cycles: 3
              current: $density
              steps:
                - plate: {capacity: 0.1 mAh/cm2}
                - strip: {duration: 1 min}
        stop:
          - stack-pressure: {band: 0.5 MPa, hold: 60 s}
          - metal-inventory: {metal: K, thickness: 300 um}
          - voltage-window: {min: -4 V, max: 4 V}

        """

    static func sampleCSV() throws -> String {
        var metadata = CSVMetadata()
        metadata.format = "cellrig-samples 1"
        metadata.runID = 7
        metadata.protocolFile = "guarded.yaml"
        metadata.area_cm2 = 0.196
        metadata.parameters = ["density": "1 mA/cm2"]
        metadata.steps = [ExportedStep(index: 0, cycle: 0, kind: "rest", current_density_mA_cm2: 0)]
        metadata.protocolText = guardedProtocol
        let writer = SampleCSVWriter()
        var text = metadata.text + writer.headerLine
        let flags: [SampleFlags] = [[], [], [.overload], [], [.late], [.pressureStale], []]
        for seq in 0..<40 {
            let sample = InstrumentSample(
                time_s: Double(seq), current_A: seq < 10 ? 0 : -1.96e-4, voltage_V: -0.01 - Double(seq) * 1e-4,
                voltageWERE_V: seq % 5 == 0 ? nil : -0.005, pressure_MPa: 2.5, temperature_C: 20,
                flags: flags[seq % flags.count])
            text += writer.row(for: RecordedSample(seq: seq, sample: sample, stepIndex: seq < 10 ? 0 : 1, cycle: 1))
        }
        return text
    }
}
