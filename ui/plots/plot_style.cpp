#include "ui/plots/plot_style.h"
