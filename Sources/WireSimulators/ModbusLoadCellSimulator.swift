public import Domain
public import Transport

/// A Modbus RTU load-cell transmitter simulated at the frame level.
///
/// Written from the Modbus over Serial Line specification: answers function 03 and 04 reads and 06 writes
/// addressed to its station (broadcasts and other stations get no reply), with exception 01 for other
/// functions and 02 for registers it does not have. The force register(s) are refreshed from the force source
/// on every read, encoded as its `ForceRegisters` say: any value type in any of the four byte orders transmitters
/// use, as a transmitter configured (or built) that way would send it. Faults: corrupt the CRC of every n-th reply,
/// or ignore every n-th request.
public actor ModbusLoadCellSimulator: WireSimulator {
    /// Replies to spoil, counted from 1.
    public struct Faults: Sendable, Hashable {
        /// Every n-th reply is sent with a wrong CRC.
        public var corruptEveryNthReply: Int?
        /// Every n-th request gets no reply.
        public var ignoreEveryNthRequest: Int?

        public init(corruptEveryNthReply: Int? = nil, ignoreEveryNthRequest: Int? = nil) {
            self.corruptEveryNthReply = corruptEveryNthReply
            self.ignoreEveryNthRequest = ignoreEveryNthRequest
        }
    }

    /// How the simulated transmitter publishes force: where, as which value type, in which byte order, at what scale.
    public struct ForceRegisters: Sendable, Hashable {
        public var stationAddress: UInt8
        public var register: UInt16
        public var valueType: ModbusLoadCellConfiguration.ValueType
        public var byteOrder: ModbusLoadCellConfiguration.ByteOrder
        /// Newtons per count (per unit for float32).
        public var newtonsPerCount: Double

        public init(
            stationAddress: UInt8, register: UInt16, valueType: ModbusLoadCellConfiguration.ValueType,
            byteOrder: ModbusLoadCellConfiguration.ByteOrder = .abcd, newtonsPerCount: Double
        ) {
            self.stationAddress = stationAddress
            self.register = register
            self.valueType = valueType
            self.byteOrder = byteOrder
            self.newtonsPerCount = newtonsPerCount
        }

        /// The register contents for `force_N`: the value's bytes, most significant first (A B C D), put on the wire
        /// in the byte order, two to a register.
        public func encode(_ force_N: Double) -> [UInt16] {
            let raw = force_N / newtonsPerCount
            let bytes: [UInt8]
            switch valueType {
            case .int16: bytes = Self.bigEndian(UInt32(UInt16(bitPattern: Int16(clamping: Int(raw.rounded())))), 2)
            case .uint16: bytes = Self.bigEndian(UInt32(UInt16(clamping: max(0, Int(raw.rounded())))), 2)
            case .int32: bytes = Self.bigEndian(UInt32(bitPattern: Int32(clamping: Int(raw.rounded()))), 4)
            case .uint32: bytes = Self.bigEndian(UInt32(clamping: max(0, Int(raw.rounded()))), 4)
            case .float32: bytes = Self.bigEndian(Float(raw).bitPattern, 4)
            }
            var wire: [UInt8]
            switch (bytes.count, byteOrder) {
            case (2, .abcd), (2, .cdab): wire = bytes
            case (2, _): wire = [bytes[1], bytes[0]]
            case (_, .abcd): wire = bytes
            case (_, .cdab): wire = [bytes[2], bytes[3], bytes[0], bytes[1]]
            case (_, .badc): wire = [bytes[1], bytes[0], bytes[3], bytes[2]]
            case (_, .dcba): wire = [bytes[3], bytes[2], bytes[1], bytes[0]]
            }
            var registers: [UInt16] = []
            while !wire.isEmpty {
                registers.append(UInt16(wire[0]) << 8 | UInt16(wire[1]))
                wire.removeFirst(2)
            }
            return registers
        }

        private static func bigEndian(_ value: UInt32, _ count: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32(count - 1 - $0))) }
        }
    }

    private let layout: ForceRegisters
    private let force: @Sendable () async -> Double
    private let faults: Faults
    private var registers: [UInt16: UInt16] = [:]
    private var requests = 0
    private var replies = 0
    /// Values written with function 06, by register.
    public private(set) var writes: [UInt16: UInt16] = [:]

    /// `extraRegisters` are further readable and writable registers (a tare or command register, say).
    public init(
        layout: ForceRegisters, extraRegisters: [UInt16: UInt16] = [:], faults: Faults = Faults(),
        force: @escaping @Sendable () async -> Double
    ) {
        self.layout = layout
        self.force = force
        self.faults = faults
        self.registers = extraRegisters
    }

    public func serve(on transport: any ByteTransport) async {
        await ModbusResponder.serve(on: transport, station: layout.stationAddress) { request in
            requests += 1
            if let n = faults.ignoreEveryNthRequest, requests % n == 0 { return nil }
            if ModbusResponder.isRead(request) {
                // The force register(s) are refreshed from the force source on every read.
                let forceWords = layout.encode(await force())
                for (offset, word) in forceWords.enumerated() { registers[layout.register + UInt16(offset)] = word }
            }
            var reply = answer(request).bytes
            replies += 1
            if let n = faults.corruptEveryNthReply, replies % n == 0 { reply[reply.count - 1] ^= 0xFF }
            return reply
        }
    }

    private func answer(_ request: ModbusRTUFrame) -> ModbusRTUFrame {
        ModbusResponder.answer(
            request, read: { registers[UInt16(clamping: $0)] },
            write: { address, value in
                let register = UInt16(clamping: address)
                guard registers[register] != nil else { return .illegalDataAddress }
                registers[register] = value
                writes[register] = value
                return nil
            })
    }
}
