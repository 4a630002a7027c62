import Domain
import Foundation

/// Everything recorded when a run starts: enough to know later exactly what ran, on what, with what.
public struct RunStart: Sendable, Hashable, Codable {
    public var protocolName: String
    public var protocolFile: String
    public var protocolText: String
    public var protocolParameters: [String: String]
    public var rig: RigDescription
    public var cell: CellDescription
    public var area_cm2: Double
    public var plan: StepPlan
    public var instruments: [InstrumentIdentity]
    public var softwareVersion: String

    public init(
        protocolName: String, protocolFile: String, protocolText: String, protocolParameters: [String: String] = [:],
        rig: RigDescription, cell: CellDescription, area_cm2: Double, plan: StepPlan,
        instruments: [InstrumentIdentity], softwareVersion: String = CellRigVersion.current
    ) {
        self.protocolName = protocolName
        self.protocolFile = protocolFile
        self.protocolText = protocolText
        self.protocolParameters = protocolParameters
        self.rig = rig
        self.cell = cell
        self.area_cm2 = area_cm2
        self.plan = plan
        self.instruments = instruments
        self.softwareVersion = softwareVersion
    }
}

/// A run as stored: its start record, state and result.
public struct StoredRun: Sendable, Hashable {
    public var id: Int64
    public var state: RunState
    public var protocolName: String
    public var protocolFile: String
    public var protocolText: String
    public var protocolSHA256: String
    public var rigID: String
    public var cellLabel: String?
    public var area_cm2: Double
    public var threeElectrode: Bool
    public var softwareVersion: String
    public var createdAt: Date
    public var endedAt: Date?
    public var endReason: String?
    public var ccd_mA_cm2: Double?
    public var plannedSteps: Int
    /// Cell-off command: wall time from the arrival of the sample that tripped a stop to the command.
    public var reactionTime_s: Double?
    /// Cell-off confirmation: wall time from the same arrival to the instrument's confirmation that its output is off.
    public var cellOffConfirmed_s: Double?
    /// Lines or packages the instruments sent that could not be turned into samples.
    public var discardedReadings: Int
    /// Wall time of the run's latest stored batch.
    public var lastWrittenAt: Date?

    public init(
        id: Int64, state: RunState, protocolName: String, protocolFile: String, protocolText: String,
        protocolSHA256: String, rigID: String, cellLabel: String?, area_cm2: Double, threeElectrode: Bool,
        softwareVersion: String, createdAt: Date, endedAt: Date?, endReason: String?, ccd_mA_cm2: Double?,
        plannedSteps: Int, reactionTime_s: Double?, cellOffConfirmed_s: Double?, discardedReadings: Int,
        lastWrittenAt: Date? = nil
    ) {
        self.id = id
        self.state = state
        self.protocolName = protocolName
        self.protocolFile = protocolFile
        self.protocolText = protocolText
        self.protocolSHA256 = protocolSHA256
        self.rigID = rigID
        self.cellLabel = cellLabel
        self.area_cm2 = area_cm2
        self.threeElectrode = threeElectrode
        self.softwareVersion = softwareVersion
        self.createdAt = createdAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.ccd_mA_cm2 = ccd_mA_cm2
        self.plannedSteps = plannedSteps
        self.reactionTime_s = reactionTime_s
        self.cellOffConfirmed_s = cellOffConfirmed_s
        self.discardedReadings = discardedReadings
        self.lastWrittenAt = lastWrittenAt
    }
}

/// An impedance point as stored in the `impedance` table, with the step that measured it.
public struct StoredImpedancePoint: Sendable, Hashable {
    public var stepIndex: Int
    public var cycle: Int
    public var point: ImpedancePoint

    public init(stepIndex: Int, cycle: Int, point: ImpedancePoint) {
        self.stepIndex = stepIndex
        self.cycle = cycle
        self.point = point
    }
}

/// A step as stored in the `steps` table.
public struct StepRecordRow: Sendable, Hashable, Codable {
    public var index: Int
    public var cycle: Int
    public var kind: String
    public var current_A: Double
    public var currentDensity_mA_cm2: Double
    public var startTime_s: Double
    public var endTime_s: Double?
    public var endReason: String?
    public var charge_C: Double

    public init(
        index: Int, cycle: Int, kind: String, current_A: Double, currentDensity_mA_cm2: Double, startTime_s: Double,
        endTime_s: Double?, endReason: String?, charge_C: Double
    ) {
        self.index = index
        self.cycle = cycle
        self.kind = kind
        self.current_A = current_A
        self.currentDensity_mA_cm2 = currentDensity_mA_cm2
        self.startTime_s = startTime_s
        self.endTime_s = endTime_s
        self.endReason = endReason
        self.charge_C = charge_C
    }
}

/// The protocol a stored run executed and the cell it ran on, as recorded when it started.
public struct RecordedProtocol: Sendable, Hashable {
    public var text: String
    public var file: String
    public var parameters: [String: String]
    public var cell: CellDescription

    public init(text: String, file: String, parameters: [String: String], cell: CellDescription) {
        self.text = text
        self.file = file
        self.parameters = parameters
        self.cell = cell
    }
}

/// What one write stores for a run, in one transaction: samples, step records (inserted or replaced) and events.
public struct RunRecordBatch: Sendable {
    public var samples: [RecordedSample]
    public var steps: [StepRecordRow]
    public var events: [(seq: Int, event: RunEvent)]
    /// Inputs from outside the samples, with their sequence numbers.
    public var inputs: [(seq: Int, input: RunInput)]

    public init(
        samples: [RecordedSample] = [], steps: [StepRecordRow] = [], events: [(seq: Int, event: RunEvent)] = [],
        inputs: [(seq: Int, input: RunInput)] = []
    ) {
        self.samples = samples
        self.steps = steps
        self.events = events
        self.inputs = inputs
    }

    public var isEmpty: Bool { samples.isEmpty && steps.isEmpty && events.isEmpty && inputs.isEmpty }
}
