// hearth::codec — the one layer that converts between domain types and the
// Protobuf messages of proto/hearth.proto. Nothing else includes generated code.
//
// Decoding takes untrusted bytes: sizes are bounded, enum values are checked,
// and an op of a kind this version does not know is skipped (it may come from
// a newer device). Encoding is deterministic for a given value.
#pragma once

#include <vector>

#include "core/base/bytes.h"
#include "core/base/result.h"
#include "core/model/model.h"

namespace hearth::codec {

// Upper bounds on decoded content; a batch beyond them is refused as damaged.
inline constexpr std::size_t kMaxOpsPerBatch = 65536;
inline constexpr std::size_t kMaxObservedPerRemove = 4096;
// A revealed check-in seal key (model::RevealKey) is exactly this long.
inline constexpr std::size_t kSealKeySize = 32;

Bytes EncodeOpBatch(const std::vector<model::Op>& ops);
Result<std::vector<model::Op>> DecodeOpBatch(ByteView bytes);

Bytes EncodeItem(const model::Item& item);
Result<model::Item> DecodeItem(ByteView bytes);

}  // namespace hearth::codec
