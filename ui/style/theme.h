// The application's look: the Fusion style with either the platform's palette or a dark palette.
// Views take their colours from the palette (plots included), so both read well.
#pragma once

namespace qbui {

void applyTheme(bool dark);

}  // namespace qbui
